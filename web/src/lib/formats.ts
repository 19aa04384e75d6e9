// The server's file formats (GET /formats, read from its formats registry), so the import and
// export pages offer exactly what the server can do; a new format module needs no web change.
import { api } from "./api";

export type FormatInfo = {
  name: string;
  description: string;
  importable: boolean;
  exportable: boolean;
  kinds: string[];
  question_types: string[];
  media_types: string[];
  training: boolean;
  writes_files: boolean;
  needs_mapping: boolean;
  default_container: string;
  extensions: string[];
};
export type ContainerInfo = { name: string; extensions: string[] };
export type Formats = { formats: FormatInfo[]; containers: ContainerInfo[] };

let cached: Promise<Formats> | null = null;

/** The list, asked for once per page load (it changes only when the server is upgraded). */
export function loadFormats(): Promise<Formats> {
  cached ??= api.get<Formats>("/formats").catch((e: unknown) => {
    cached = null; // a failed load is tried again next time
    throw e;
  });
  return cached;
}

/** Formats usable from the web app for one direction; those needing a field mapping (CLI only) are left out. */
export function usable(all: FormatInfo[], direction: "import" | "export"): FormatInfo[] {
  return all.filter((f) => !f.needs_mapping && (direction === "import" ? f.importable : f.exportable));
}

/** What a format needs, in a few words: "conversation, comparison · labels: ranking". */
export function needs(f: FormatInfo): string {
  const parts = [f.media_types.length ? f.media_types.join(" / ") : f.kinds.join(", ")];
  if (f.question_types.length) parts.push(`${f.writes_files ? "answers" : "labels"}: ${f.question_types.join(", ")}`);
  return parts.join(" · ");
}

/** The `accept` attribute of a file input: every extension a container reads. */
export function acceptOf(containers: ContainerInfo[]): string {
  return [...new Set(containers.flatMap((c) => c.extensions))].join(",");
}
