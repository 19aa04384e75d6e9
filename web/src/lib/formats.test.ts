import { describe, expect, it } from "vitest";
import { acceptOf, needs, usable, type FormatInfo } from "./formats";

const base: FormatInfo = {
  name: "x", description: "", importable: true, exportable: true, kinds: ["conversation"], question_types: [],
  media_types: [], training: true, writes_files: false, needs_mapping: false, default_container: "jsonl", extensions: [".jsonl"],
};

describe("formats", () => {
  it("keeps what each direction can use and leaves out formats that need a mapping", () => {
    const all = [
      { ...base, name: "rows" },
      { ...base, name: "coco", importable: false, writes_files: true },
      { ...base, name: "generic", needs_mapping: true },
    ];
    expect(usable(all, "import").map((f) => f.name)).toEqual(["rows"]);
    expect(usable(all, "export").map((f) => f.name)).toEqual(["rows", "coco"]);
  });

  it("says what a format needs", () => {
    expect(needs({ ...base, kinds: ["comparison"], question_types: ["ranking"] })).toBe("comparison · labels: ranking");
    expect(needs({ ...base, kinds: ["media"], media_types: ["video"], question_types: ["track"], writes_files: true })).toBe(
      "video · answers: track",
    );
  });

  it("joins the containers' extensions once each", () => {
    expect(acceptOf([{ name: "jsonl", extensions: [".jsonl", ".ndjson"] }, { name: "hf", extensions: [] }, { name: "j", extensions: [".jsonl"] }])).toBe(
      ".jsonl,.ndjson",
    );
  });
});
