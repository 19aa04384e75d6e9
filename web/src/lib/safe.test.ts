import { describe, expect, it } from "vitest";
import { renderMarkdown, safeHref, sanitizeHtml } from "./safe";

function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

describe("safeHref", () => {
  it("keeps http, https and mailto", () => {
    expect(safeHref("https://example.org/a?b=1")).toBe("https://example.org/a?b=1");
    expect(safeHref("http://example.org")).toBe("http://example.org/");
    expect(safeHref("mailto:a@b.org")).toBe("mailto:a@b.org");
  });
  it("refuses script and data URLs, however disguised, and relative ones", () => {
    for (const bad of ["javascript:alert(1)", "JavaScript:alert(1)", " java\tscript:alert(1)", "jav\u0000ascript:x",
      "data:text/html,<script>x</script>", "vbscript:x", "/relative", "//evil.org/x", "", null, undefined]) {
      expect(safeHref(bad as string)).toBeNull();
    }
  });
});

describe("renderMarkdown", () => {
  it("renders Markdown: emphasis, code blocks, lists", () => {
    const d = dom(renderMarkdown("**bold** and `code`\n\n```py\nprint(1)\n```\n\n- a\n- b"));
    expect(d.querySelector("strong")?.textContent).toBe("bold");
    expect(d.querySelector("pre code")?.textContent).toContain("print(1)");
    expect(d.querySelectorAll("li")).toHaveLength(2);
  });

  it("shows raw HTML as text: no script, no img, no handler survives", () => {
    const src = '<script>window.__pwned=1</script>\n\nhi <img src=x onerror="window.__pwned=1"> there';
    const html = renderMarkdown(src);
    const d = dom(html);
    expect(d.querySelector("script")).toBeNull();
    expect(d.querySelector("img")).toBeNull();
    expect(d.querySelector("[onerror]")).toBeNull();
    expect(d.textContent).toContain("<script>window.__pwned=1</script>");
    expect(d.textContent).toContain('<img src=x onerror="window.__pwned=1">');
  });

  it("makes javascript: links inert and opens safe links in a new tab without opener", () => {
    const d = dom(renderMarkdown("[bad](javascript:window.__pwned=1) [good](https://example.org)"));
    const [bad, good] = Array.from(d.querySelectorAll("a"));
    expect(bad.hasAttribute("href")).toBe(false);
    expect(bad.textContent).toBe("bad");
    expect(good.getAttribute("href")).toBe("https://example.org/");
    expect(good.getAttribute("target")).toBe("_blank");
    expect(good.getAttribute("rel")).toContain("noopener");
    expect(good.getAttribute("rel")).toContain("noreferrer");
  });

  it("turns images into links and loads nothing", () => {
    const d = dom(renderMarkdown("![cat](https://example.org/cat.png) ![x](javascript:alert(1))"));
    expect(d.querySelector("img")).toBeNull();
    const links = d.querySelectorAll("a");
    expect(links[0].getAttribute("href")).toBe("https://example.org/cat.png");
    expect(links[1].hasAttribute("href")).toBe(false);
  });
});

describe("sanitizeHtml", () => {
  it("strips what the allow-list does not name, even if it reaches the sanitizer", () => {
    const d = dom(sanitizeHtml('<a href="javascript:x" onclick="y">l</a><iframe src="x"></iframe><style>*{}</style><b onmouseover="z">b</b>'));
    expect(d.querySelector("iframe, style, b")).toBeNull();
    expect(d.querySelector("a")?.hasAttribute("onclick")).toBe(false);
    expect(d.querySelector("a")?.hasAttribute("href")).toBe(false);
    expect(d.textContent).toContain("b");
  });
});
