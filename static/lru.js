/*
 * Recency queues for the bounded panels: keys in the order they were last
 * touched, with O(1) touch, delete and oldest-first access.
 *
 * Why not a Map alone (delete and re-insert to move a key to the back, then
 * take keys().next() for the oldest): V8 leaves deleted entries in place
 * until the table is rebuilt, and iteration from the front walks over all of
 * them. Used as a queue under a flood, that made each eviction cost
 * thousands of steps. Here the Map is only looked up; a linked list keeps
 * the order.
 */

export class RecencyQueue {
  constructor() {
    this.entries = new Map(); // key -> { key, value, prev, next }
    this.head = null;         // oldest
    this.tail = null;         // newest
  }

  get size() { return this.entries.size; }

  has(key) { return this.entries.has(key); }

  /** The value stored with `key`, or undefined. */
  get(key) {
    const e = this.entries.get(key);
    return e ? e.value : undefined;
  }

  /** Store `value` with `key` and make it the newest. */
  touch(key, value) {
    let e = this.entries.get(key);
    if (e) {
      this.unlink(e);
    } else {
      e = { key, value, prev: null, next: null };
      this.entries.set(key, e);
    }
    e.value = value;
    e.prev = this.tail;
    e.next = null;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  /** Remove `key`; returns its value (undefined when absent). */
  delete(key) {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.unlink(e);
    this.entries.delete(key);
    return e.value;
  }

  /** The oldest key, or undefined when empty. */
  oldest() { return this.head ? this.head.key : undefined; }

  /** Keys from the oldest to the newest. */
  *keys() {
    for (let e = this.head; e; e = e.next) yield e.key;
  }

  unlink(e) {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = null;
    e.next = null;
  }
}
