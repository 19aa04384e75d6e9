/** Shorten untrusted text for a one-line preview; the caller renders it as text, never HTML. */
export function preview(text: string, max = 120): string {
  // Only the head matters: flattening a whole long document for one line would waste time.
  const head = text.length > max * 4 + 64 ? text.slice(0, max * 4 + 64) : text;
  const flat = head.replace(/\s+/g, " ").trim();
  if (head !== text && flat.length < max) return flat + "…";
  return flat.length <= max ? flat : flat.slice(0, max - 1) + "…";
}
