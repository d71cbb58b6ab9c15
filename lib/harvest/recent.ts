// The Jobs this harvester process stored lately, by uid. Every Job sends more events after its
// harvest (the update that finished it is often followed by another, and the delete the harvest
// makes sends one with the Job's last, finished state): each would cost a database query only to
// learn it was a duplicate. A run's outcome never goes back to pending, so a uid in here is a
// duplicate for good; one that fell out (or another replica's) is still found in the database.
export class RecentlyHarvested {
  readonly capacity: number;
  #uids = new Set<string>();

  constructor(capacity = 10_000) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
    this.capacity = capacity;
  }

  has(uid: string): boolean {
    return this.#uids.has(uid);
  }

  /** Remembers a uid; past the capacity the oldest is forgotten (a Set iterates in insertion order). */
  add(uid: string): void {
    if (!uid || this.#uids.has(uid)) return;
    this.#uids.add(uid);
    if (this.#uids.size > this.capacity) this.#uids.delete(this.#uids.values().next().value!);
  }

  get size(): number {
    return this.#uids.size;
  }
}
