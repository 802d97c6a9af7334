// HoldingTable, the open-addressing table behind the ownership index's route lookups, answers
// like a Map after any sequence of sets and deletes: with its real hash, with every key colliding
// (so probing and the back-shift on delete carry the load), through growth, for keys too long or
// too wide (beyond U+00FF) to be stored in the slot, and for shared (Map) values.
import t from 'tap';
import fc from 'fast-check';
import { HoldingTable } from '../../policy/ownership.js';

class Colliding extends HoldingTable {
  override hash(key: string): number {
    return key.length % 3; // nearly everything in one probe run
  }
}

const keyPart = fc.constantFrom('a', 'b', 'ab', '.', 'x.example.com', '*.', 'ü', '日', 'z'.repeat(30), 'é');
const key = fc.array(keyPart, { maxLength: 5 }).map((p) => p.join(''));
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.oneof(fc.integer({ min: 1, max: 2 ** 30 - 1 }), fc.constant('shared' as const)) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

function check(make: () => HoldingTable, ops: Array<{ kind: 'set' | 'delete'; key: string; value?: number | 'shared' }>, probes: string[]): boolean {
  const table = make();
  const model = new Map<string, number | Map<number, number>>();
  for (const o of ops) {
    if (o.kind === 'set') {
      const value = o.value === 'shared' ? new Map([[1, 2]]) : o.value!;
      table.set(o.key, value);
      model.set(o.key, value);
    } else {
      const had = model.delete(o.key);
      if (table.delete(o.key) !== had) throw new Error(`delete(${JSON.stringify(o.key)}) answered ${!had}`);
    }
    if (table.size !== model.size) throw new Error(`size ${table.size} vs ${model.size}`);
    for (const k of [...model.keys(), ...probes]) {
      if (table.get(k) !== model.get(k)) throw new Error(`get(${JSON.stringify(k)}) after ${JSON.stringify(o)}`);
    }
  }
  return true;
}

t.test('agrees with a Map', async (t) => {
  const probes = ['', 'a', 'b', 'ab', 'x.example.com', 'zzz', 'ü', '日'];
  fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => check(() => new HoldingTable(), ops, probes)), { numRuns: 400 });
  fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => check(() => new Colliding(), ops, probes)), { numRuns: 400 });
  t.pass('agree');
});

t.test('many keys: growth, then deleting in another order, everything colliding or not', async (t) => {
  for (const make of [() => new HoldingTable(), () => new HoldingTable(0), () => new Colliding()]) {
    const table = make();
    const n = make === undefined ? 0 : table instanceof Colliding ? 600 : 20000;
    for (let i = 0; i < n; i++) table.set(`s${i}.t${i % 97}.example.com`, i + 1);
    t.equal(table.size, n);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (table.get(`s${i}.t${i % 97}.example.com`) !== i + 1) wrong++;
    t.equal(wrong, 0, 'every key found with its value');
    t.equal(table.get(`s${n}.t0.example.com`), undefined);
    for (let i = 0; i < n; i += 2) table.delete(`s${(i * 7919) % n}.t${((i * 7919) % n) % 97}.example.com`);
    const left = new Set<number>();
    for (let i = 0; i < n; i += 2) left.add((i * 7919) % n);
    wrong = 0;
    for (let i = 0; i < n; i++) {
      const expected = left.has(i) ? undefined : i + 1;
      if (table.get(`s${i}.t${i % 97}.example.com`) !== expected) wrong++;
    }
    t.equal(wrong, 0, 'after deleting half, exactly the rest is found');
  }
});
