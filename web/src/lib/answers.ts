/** Answers (a response's values, a suggestion's value) as one readable line, by their shape. */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const withWhy = (s: string, why: unknown) => (typeof why === "string" && why.trim() ? `${s} — ${why}` : s);

export function formatAnswer(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  // ranking: [["b"], ["a", "c"]] -> "b > a = c"
  if (Array.isArray(v) && v.length && v.every((g) => Array.isArray(g) && g.every((x) => typeof x === "string")))
    return (v as string[][]).map((g) => g.join(" = ")).join(" > ");
  // step verdicts: [{step, verdict, cause, note}]
  if (Array.isArray(v) && v.length && v.every((x) => isObj(x) && typeof x.step === "number" && typeof x.verdict === "string"))
    return (v as Obj[])
      .map((x) => withWhy(`step ${(x.step as number) + 1}: ${x.verdict}${x.cause ? ` (${x.cause})` : ""}`, x.note))
      .join("; ");
  if (isObj(v)) {
    if (typeof v.choice === "string") return withWhy(v.choice, v.rationale);
    if (Array.isArray(v.choices)) return withWhy((v.choices as string[]).join(", ") || "(none)", v.rationale);
    // per-candidate ratings: {a: 5, b: 3}
    const entries = Object.entries(v);
    if (entries.length && entries.every(([, x]) => typeof x === "number"))
      return entries.map(([k, x]) => `${k}: ${x}`).join(" · ");
  }
  return JSON.stringify(v);
}
