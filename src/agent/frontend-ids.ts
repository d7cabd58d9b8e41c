/**
 * Numeric frontend IDs for `vipgate service list`, like Cilium's service IDs. A frontend keeps
 * its ID for as long as this agent runs; a new frontend takes the lowest free ID, so IDs stay small.
 */
export class FrontendIds {
  private readonly idByKey = new Map<string, number>();
  private readonly used = new Set<number>();

  /** Gives every key an ID, keeping existing ones and freeing those of vanished keys. */
  update(keys: Iterable<string>): ReadonlyMap<string, number> {
    const wanted = new Set(keys);
    for (const [key, id] of this.idByKey) {
      if (!wanted.has(key)) {
        this.idByKey.delete(key);
        this.used.delete(id);
      }
    }
    let next = 1;
    for (const key of wanted) {
      if (this.idByKey.has(key)) continue;
      while (this.used.has(next)) next++;
      this.idByKey.set(key, next);
      this.used.add(next);
    }
    return this.idByKey;
  }
}
