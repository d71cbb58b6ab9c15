// AdmissionReviews parsed by JSON.parse from a V8 context of its own. JSON.parse finds each
// object's shape by following the transitions from the empty object's shape of its context, one
// property name at a time. In the admission server's context that shape has the transitions of
// every object the loaded libraries built (the database layer, the configuration's validator, the
// logger), so each lookup searches a large table, with cold caches when reviews arrive one at a
// time between other processes' work. In a context of its own the table holds only the shapes of
// AdmissionReviews. bench/admission-replay.ts shows the difference in CPU per review (and
// bench/admission-apiserver.ts's floor-realm and floor-loaded-realm targets the same for a bare
// server). What it returns are plain data objects whose prototypes belong to that context; nothing
// relies on `instanceof Object` or `instanceof Error` for them (its SyntaxErrors are that
// context's too). The context is also what lets V8's memory reducer find the server quiet on
// Node 24 (lib/admission/v8-flags.ts).
import { runInNewContext } from 'node:vm';

/** JSON.parse of a context of its own: the same values as JSON.parse, objects of that context. */
export const parseJson: (text: string) => unknown = runInNewContext('JSON.parse');
