/*
 * What the page keeps in this browser's localStorage besides the limits:
 * saved subscriptions and publish templates. Each is a bounded list (at
 * most `max` items, each checked and clipped when read back), so a
 * garbled or hostile entry in storage can neither break the page nor grow
 * without bound. Storage that is disabled or full leaves the page working
 * without it: `save` says whether it could.
 */

export class SavedList {
  /**
   * `key`: the localStorage key; `max`: how many items at most; `clean(x)`:
   * the item to keep for a stored value, or null to drop it; `id(item)`:
   * what makes two items the same (a newer one replaces the older).
   */
  constructor(key, { max, clean, id }) {
    this.key = key;
    this.max = max;
    this.clean = clean;
    this.id = id;
    this.items = [];
  }

  /** Read the list back from storage (invalid items are dropped). */
  load() {
    let raw;
    try {
      raw = JSON.parse(localStorage.getItem(this.key) || '[]');
    } catch (_) {
      raw = [];
    }
    this.items = [];
    if (!Array.isArray(raw)) return this.items;
    for (const x of raw) {
      const item = this.clean(x);
      if (item && !this.find(this.id(item))) this.items.push(item);
      if (this.items.length >= this.max) break;
    }
    return this.items;
  }

  find(id) {
    return this.items.find((x) => this.id(x) === id) || null;
  }

  /** Add or replace `item`; false when the list is full (and `item` is new) or storage refused it. */
  put(item) {
    const i = this.items.findIndex((x) => this.id(x) === this.id(item));
    if (i >= 0) this.items[i] = item;
    else if (this.items.length >= this.max) return false;
    else this.items.push(item);
    return this.save();
  }

  /** Remove the item with `id`; returns whether storage took the change. */
  remove(id) {
    this.items = this.items.filter((x) => this.id(x) !== id);
    return this.save();
  }

  save() {
    try {
      if (this.items.length) localStorage.setItem(this.key, JSON.stringify(this.items));
      else localStorage.removeItem(this.key);
      return true;
    } catch (_) {
      return false;
    }
  }
}

/** A string of at most `max` characters, or null. */
export function cleanString(v, max, allowEmpty = false) {
  if (typeof v !== 'string' || v.length > max || (!allowEmpty && v === '')) return null;
  return v;
}

/** 0, 1 or 2 (0 for anything else). */
export function cleanQos(v) {
  return v === 1 || v === 2 ? v : 0;
}
