/**
 * Untrusted content (records, guidelines, descriptions) never becomes live HTML: Markdown is
 * rendered by marked with raw HTML shown as text (so `<script>` in a record reads as what it
 * is), then sanitized by DOMPurify with a strict allow-list as a second wall. Links keep only
 * http, https and mailto targets and open in a new tab without opener or referrer; any other
 * link is made inert. Images are dropped (an image URL is a tracking beacon).
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** The URL if it is absolute http(s) or mailto, else `null` (javascript:, data:, relative...). */
export function safeHref(url: string | null | undefined): string | null {
  if (!url) return null;
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
  const trimmed = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

const ALLOWED_TAGS = [
  "a", "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
  "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "sup", "sub", "input",
];
const ALLOWED_ATTR = ["href", "title", "class", "align", "type", "checked", "disabled", "start"];

let purifier: ReturnType<typeof DOMPurify> | null = null;

function sanitizer(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = safeHref(node.getAttribute("href"));
      if (href) {
        node.setAttribute("href", href);
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      } else {
        node.removeAttribute("href"); // inert: shown as text, goes nowhere
        node.setAttribute("class", "inert-link");
      }
    }
    if (node.tagName === "INPUT" && node.getAttribute("type") !== "checkbox") node.remove();
    if (node.tagName === "INPUT") node.setAttribute("disabled", "");
  });
  purifier = p;
  return p;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    // Raw HTML in Markdown is shown as text, never parsed.
    html: ({ text }) => escapeHtml(text),
    // An image becomes a link to it (inert unless http/https), so nothing loads by itself.
    image: ({ href, text }) => `<a href="${escapeHtml(href ?? "")}">${escapeHtml(text || "image")}</a>`,
  },
});

/** Sanitize an HTML string with the allow-list above. */
export function sanitizeHtml(html: string): string {
  return sanitizer().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ADD_ATTR: ["target", "rel"],
  }) as string;
}

/** Markdown -> safe HTML. */
export function renderMarkdown(source: string | null | undefined): string {
  return sanitizeHtml(marked.parse(source ?? "") as string);
}
