/**
 * The shapes the task views work with: questions as the API returns them (the JSON of
 * `thresher.model.questions`), records, and the answer value of each question type.
 */

export type Rationale = "none" | "optional" | "required";

interface QuestionBase {
  name: string;
  title?: string | null;
  description?: string | null;
  required?: boolean;
}

export interface TextQuestion extends QuestionBase {
  type: "text";
  min_length?: number;
  max_length?: number | null;
  markdown?: boolean;
}

export interface RatingQuestion extends QuestionBase {
  type: "rating";
  dimension?: string | null;
  min: number;
  max: number;
  /** JSON object keys are strings: {"1": "poor", "5": "excellent"}. */
  anchors?: Record<string, string>;
  per_candidate?: boolean;
}

export interface RankingQuestion extends QuestionBase {
  type: "ranking";
  options?: string[] | null;
  allow_ties?: boolean;
}

export interface ChoiceQuestion extends QuestionBase {
  type: "choice";
  options?: string[] | null;
  rationale?: Rationale;
}

export interface MultiChoiceQuestion extends QuestionBase {
  type: "multi_choice";
  options: string[];
  rationale?: Rationale;
  min_choices?: number;
}

export interface SpanQuestion extends QuestionBase {
  type: "span";
  labels: string[];
  allow_overlap?: boolean;
}

export interface StepVerdictQuestion extends QuestionBase {
  type: "step_verdict";
  require_cause?: boolean;
}

/** A question type this app has no view for yet (image, video, audio...). */
export interface OtherQuestion extends QuestionBase {
  type: string;
  [key: string]: unknown;
}

export type Question =
  | TextQuestion
  | RatingQuestion
  | RankingQuestion
  | ChoiceQuestion
  | MultiChoiceQuestion
  | SpanQuestion
  | StepVerdictQuestion;

export interface ToolCall {
  id?: string | null;
  name: string;
  arguments?: Record<string, unknown> | string;
}

export type Part = { type: "text"; text: string } | { type: string; [key: string]: unknown };

export interface Message {
  role: "system" | "user" | "assistant" | "tool";
  content?: string | Part[] | null;
  name?: string | null;
  tool_calls?: ToolCall[] | null;
  tool_call_id?: string | null;
  reasoning?: string | null;
  weight?: 0 | 1 | null;
}

export interface Candidate {
  id: string;
  messages: Message[];
  model?: string | null;
}

export interface Step {
  type: string;
  content?: string | null;
  agent?: string | null;
  tool_call?: ToolCall | null;
  tool_call_id?: string | null;
  is_error?: boolean | null;
  handoff_to?: string | null;
}

/** A record as the API returns it; `content` is discriminated by `kind`. */
export interface TaskRecord {
  id: string;
  /** Not in the API's JSON (the kind is `content.kind`); kept for callers that add it. */
  kind?: string;
  content: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Suggestion {
  question: string;
  value: unknown;
  agent?: string | null;
  score?: number | null;
}

// -- answer values --------------------------------------------------------------------------

export type RatingValue = number | Record<string, number>;
export type RankingValue = string[][];
export interface ChoiceValue {
  choice: string;
  rationale: string | null;
}
export interface MultiChoiceValue {
  choices: string[];
  rationale: string | null;
}
export interface SpanValue {
  start: number;
  end: number;
  label: string;
  field: string;
}
export type Verdict = "correct" | "wrong" | "unclear";
export type Cause = "model_output" | "system" | "tool" | "unclear";
export interface StepVerdictValue {
  step: number;
  verdict: Verdict;
  cause?: Cause;
  note?: string;
  corrected?: string | ToolCall;
}

/** The props every task view takes. `value` is undefined until the annotator answers. */
export interface TaskProps<Q = OtherQuestion, V = unknown> {
  question: Q;
  record: TaskRecord;
  value: V | undefined;
  suggestion?: Suggestion;
  onchange: (value: V | undefined) => void;
}
