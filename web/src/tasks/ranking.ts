/**
 * Ranking moves on the answer shape `[["b"], ["a", "c"]]` (best group first; a group is a tie).
 * Every move returns a new ranking; none mutates its input.
 */

export type Ranking = string[][];

/** The ranking to start from: the value, or the options in their given order, one per group. */
export function initialRanking(value: Ranking | undefined, options: string[]): Ranking {
  if (value && value.length) {
    const seen = new Set(value.flat());
    const missing = options.filter((o) => !seen.has(o)).map((o) => [o]);
    return [...value.map((g) => [...g]), ...missing];
  }
  return options.map((o) => [o]);
}

export function groupOf(r: Ranking, item: string): number {
  return r.findIndex((g) => g.includes(item));
}

function without(r: Ranking, item: string): Ranking {
  return r.map((g) => g.filter((x) => x !== item));
}

const compact = (r: Ranking): Ranking => r.filter((g) => g.length > 0);

/**
 * Move an item one place up (towards best). Tied with others, it leaves its group and goes
 * just above it; alone, it swaps with the group above.
 */
export function moveUp(r: Ranking, item: string): Ranking {
  const gi = groupOf(r, item);
  if (gi < 0) return r;
  if (r[gi].length > 1) {
    const rest = without(r, item);
    return compact([...rest.slice(0, gi), [item], ...rest.slice(gi)]);
  }
  if (gi === 0) return r;
  const out = r.map((g) => [...g]);
  [out[gi - 1], out[gi]] = [out[gi], out[gi - 1]];
  return out;
}

/** Move an item one place down (towards worst); the mirror of `moveUp`. */
export function moveDown(r: Ranking, item: string): Ranking {
  const gi = groupOf(r, item);
  if (gi < 0) return r;
  if (r[gi].length > 1) {
    const rest = without(r, item);
    return compact([...rest.slice(0, gi + 1), [item], ...rest.slice(gi + 1)]);
  }
  if (gi === r.length - 1) return r;
  const out = r.map((g) => [...g]);
  [out[gi + 1], out[gi]] = [out[gi], out[gi + 1]];
  return out;
}

/** Tie an item with the group above it (toggle: tied already, it is split off above). */
export function tieWithPrevious(r: Ranking, item: string): Ranking {
  const gi = groupOf(r, item);
  if (gi < 0) return r;
  if (r[gi].length > 1 && r[gi][0] !== item) {
    // Already tied with something above it in its group: untie, keeping it just below.
    const rest = without(r, item);
    return compact([...rest.slice(0, gi + 1), [item], ...rest.slice(gi + 1)]);
  }
  if (gi === 0) return r;
  const rest = without(r, item);
  rest[gi - 1] = [...rest[gi - 1], item];
  return compact(rest);
}

/** Put an item at a position in the flat order (drag and drop), alone in its own group. */
export function moveTo(r: Ranking, item: string, groupIndex: number, tie = false): Ranking {
  const gi = groupOf(r, item);
  if (gi < 0) return r;
  const alone = r[gi].length === 1;
  const rest = compact(without(r, item));
  // Removing a singleton group shifts the later groups up by one.
  let target = alone && groupIndex > gi ? groupIndex - 1 : groupIndex;
  target = Math.max(0, Math.min(target, rest.length));
  if (tie && target < rest.length) {
    rest[target] = [...rest[target], item];
    return rest;
  }
  return [...rest.slice(0, target), [item], ...rest.slice(target)];
}

/** The flat order of items, best first (for keyboard focus). */
export const flat = (r: Ranking): string[] => r.flat();
