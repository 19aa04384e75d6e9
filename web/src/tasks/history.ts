/**
 * Undo and redo inside one task: a list of answer snapshots. Typing in a text field makes many
 * changes a second; changes to the same key within `coalesceMs` count as one step.
 */

export type Answers = Record<string, unknown>;

export class History {
  private past: Answers[] = [];
  private future: Answers[] = [];
  private lastKey: string | null = null;
  private lastAt = 0;

  constructor(
    private present: Answers = {},
    private readonly coalesceMs = 800,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get current(): Answers {
    return this.present;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** Set one answer (undefined removes it); returns the new answers. */
  set(key: string, value: unknown): Answers {
    const next = { ...this.present };
    if (value === undefined) delete next[key];
    else next[key] = value;
    const t = this.now();
    const coalesce = key === this.lastKey && t - this.lastAt < this.coalesceMs && this.past.length > 0;
    if (!coalesce) this.past.push(this.present);
    this.future = [];
    this.present = next;
    this.lastKey = key;
    this.lastAt = t;
    return next;
  }

  undo(): Answers {
    const prev = this.past.pop();
    if (prev !== undefined) {
      this.future.push(this.present);
      this.present = prev;
    }
    this.lastKey = null;
    return this.present;
  }

  redo(): Answers {
    const next = this.future.pop();
    if (next !== undefined) {
      this.past.push(this.present);
      this.present = next;
    }
    this.lastKey = null;
    return this.present;
  }

  /** Start over from `answers` (a new task), forgetting the steps. */
  reset(answers: Answers): void {
    this.past = [];
    this.future = [];
    this.present = answers;
    this.lastKey = null;
  }
}
