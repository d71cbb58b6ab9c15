// A small seeded generator (mulberry32): the same seed gives the same sequence, so a demo
// database is the same every time and a fault run or a fuzz failure can be replayed from the
// seed it prints. Not for anything secret.

/** Returns a generator of numbers in [0, 1) for `seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
