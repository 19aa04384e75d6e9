/** The API's shapes, as the server's pydantic models define them (src/thresher/model, server/routers). */

export type BlobRef = { uri: string; mime_type?: string | null; sha256?: string | null; size?: number | null };
export type Part =
  | { type: "text"; text: string }
  | { type: "image"; image: BlobRef; detail?: string | null }
  | { type: "audio"; audio: BlobRef }
  | { type: "video"; video: BlobRef };
export type ToolCall = { id?: string | null; name: string; arguments?: Record<string, unknown> | string };
export type Message = {
  role: "system" | "user" | "assistant" | "tool";
  content?: string | Part[] | null;
  name?: string | null;
  tool_calls?: ToolCall[] | null;
  tool_call_id?: string | null;
  reasoning?: string | null;
  weight?: 0 | 1 | null;
};

export type TextContent = { kind: "text"; text: string };
export type ConversationContent = { kind: "conversation"; messages: Message[]; tools?: unknown[] | null };
export type Candidate = { id: string; messages: Message[]; model?: string | null; params?: Record<string, unknown> | null };
export type ComparisonContent = { kind: "comparison"; prompt: Message[]; candidates: Candidate[]; tools?: unknown[] | null };
export type StepType = "plan" | "reasoning" | "tool_call" | "tool_result" | "message" | "handoff" | "error";
export type Step = {
  type: StepType;
  content?: string | null;
  agent?: string | null;
  tool_call?: ToolCall | null;
  tool_call_id?: string | null;
  is_error?: boolean | null;
  handoff_to?: string | null;
  model?: string | null;
  started_at?: number | null;
  latency_ms?: number | null;
  tokens?: number | null;
};
export type AgentRunContent = {
  kind: "agent_run";
  task: string | Message[];
  steps: Step[];
  tools?: unknown[] | null;
  outcome?: { status?: "success" | "failure" | "partial" | "unknown"; detail?: string | null; score?: number | null };
  failure?: { step?: number | null; cause?: "model_output" | "system" | "tool" | "unknown"; reason?: string | null } | null;
};
export type MediaInfo = {
  width?: number | null;
  height?: number | null;
  orientation?: number | null;
  duration_s?: number | null;
  fps?: number | null;
  frame_count?: number | null;
  codec?: string | null;
  sample_rate?: number | null;
  channels?: number | null;
};
export type MediaContent = {
  kind: "media";
  media_type: "image" | "video" | "audio";
  blob: BlobRef;
  info?: MediaInfo;
  caption?: string | null;
  context?: Message[] | null;
};
export type EvalItemContent = {
  kind: "eval_item";
  input: Message[];
  reference?: string | string[] | null;
  choices?: string[] | null;
  grader?: { type: string; params?: Record<string, unknown> } | null;
};
export type Content =
  | TextContent
  | ConversationContent
  | ComparisonContent
  | AgentRunContent
  | MediaContent
  | EvalItemContent;

export type RecordPublic = {
  id: string;
  seq?: number;
  kind?: string;
  content: Content;
  content_hash?: string | null;
  metadata?: Record<string, unknown>;
  source?: Record<string, unknown>;
  split?: string | null;
  task_type?: string | null;
  domains?: string[];
  lineage?: string[];
  synthetic?: boolean;
  created_at?: string | null;
};
export type Page<T> = { items: T[]; next: number | null };

export type Me = { name: string; is_admin: boolean; kind: string; csrf_token?: string | null };
export type Project = { name: string; description: string | null; created_at: string | null; role: string | null };
export type Question = { type: string; name: string; title?: string | null; description?: string | null; required?: boolean } & Record<string, unknown>;
export type Dataset = {
  project: string;
  name: string;
  description: string | null;
  guidelines: string | null;
  questions: Question[];
  created_at: string | null;
};
export type ResponsePublic = {
  id: string | null;
  record_id: string | null;
  user: string;
  answers: Record<string, unknown>;
  status: string;
  created_at: string | null;
  updated_at: string | null;
};
export type SuggestionPublic = {
  id: string | null;
  record_id: string | null;
  question: string;
  value: unknown;
  agent: string;
  score: number | null;
  created_at: string | null;
};
export type Version = { dataset: string; name: string; description: string | null; record_count: number; manifest_hash: string; created_at: string | null };
export type ExportJob = {
  id: string;
  project: string;
  dataset: string;
  version: string | null;
  format: string;
  container: string | null;
  options: Record<string, unknown>;
  filters: { kinds: string[]; splits: string[]; task_types: string[] };
  status: "queued" | "running" | "done" | "failed" | "cancelled";
  progress: number;
  total: number | null;
  error: string | null;
  file: string | null;
  download: string | null;
  manifest?: Record<string, unknown> | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
};
export type Member = { user: string; role: string; skills: string[]; languages: string[] };
export type ApiKey = { id: string; name: string; prefix: string; role: string; created_at: string; last_used_at: string | null; revoked: boolean };
export type User = { name: string; is_admin: boolean; created_at: string };

export const RECORD_KINDS = ["text", "conversation", "comparison", "agent_run", "media", "eval_item"] as const;
export const TASK_TYPES = [
  "generation", "open_qa", "brainstorming", "chat", "rewrite", "summarization", "classification", "closed_qa", "extraction", "other",
] as const;

// Evals, arena and training (routers evals.py, arena.py, training.py).
export type ArenaBattle = { battle_id: string; prompt: Message[]; a: { output: string }; b: { output: string } };
export type ArenaWinner = "a" | "b" | "tie" | "both_bad";
export type ArenaVote = { battle_id: string; winner: ArenaWinner; reason: string | null; model_a: string; model_b: string };
export type ArenaRating = { model: string; rating: number; ci: [number, number]; battles: number; wins: number; ties: number };
export type ArenaLeaderboard = { votes: number; models: ArenaRating[] };
export type EvalSummary = {
  items?: number;
  scored?: number;
  errors?: number;
  mean?: number | null;
  ci?: [number | null, number | null];
  pass_rate?: number | null;
  by_tag?: Record<string, { n: number; mean: number; ci: [number, number] }>;
} & Record<string, unknown>;
export type EvalRun = {
  id: string;
  suite: string;
  model: string;
  adapter: string;
  params: Record<string, unknown>;
  stage: string | null;
  training_version: string | null;
  status: string;
  summary: EvalSummary;
  created_at: string;
  finished_at: string | null;
};
export type PairedComparison = {
  a: { id: string; model: string; stage: string | null };
  b: { id: string; model: string; stage: string | null };
  suite: string;
  pass_fail: boolean;
  n: number;
  diff: number;
  ci: [number, number];
  p_bootstrap: number;
  significant: boolean;
  verdict: string;
  mcnemar?: { p: number } | null;
} & Record<string, unknown>;
export type EvalJob = {
  id: string;
  status: "queued" | "running" | "done" | "failed" | "cancelled";
  suite: string;
  model: string;
  stage: string | null;
  training_version: string | null;
  progress: number;
  total: number | null;
  run_id: string | null;
  error: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
};
export type TrainingRun = {
  id: string;
  method: string;
  recipe: Record<string, unknown>;
  base_model: string;
  base_stage: string | null;
  dataset: string;
  version: string;
  manifest_hash: string;
  export_sha256: string | null;
  seed: number;
  libraries: Record<string, string>;
  status: string;
  step: number;
  metrics: Record<string, unknown>;
  loss_curve: { step: number; loss: number }[];
  output_path: string;
  stage: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
};
export type StageEvalRun = { id: string; suite: string; model: string; status: string; mean: number | null; ci: (number | null)[] };
export type Stage = {
  name: string;
  kind: string;
  parent: string | null;
  model_path: string | null;
  endpoint: string | null;
  endpoint_model: string | null;
  run_id: string | null;
  description: string | null;
  eval_runs: StageEvalRun[];
  created_at: string;
};
