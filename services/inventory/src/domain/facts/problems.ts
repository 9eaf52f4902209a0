/** A parse problem in remote output: recorded with the facts, never thrown through. */
export interface FactProblem {
  source: string;
  code: 'FACTS_PARSE_ERROR' | 'FACTS_OUTPUT_TOO_LARGE' | 'FACTS_COMMAND_FAILED';
  message: string;
}

/** Remote output is untrusted: anything longer than this is not parsed. */
export const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Lines longer than this are skipped as garbage rather than parsed. */
export const MAX_LINE = 8192;

/** Splits output into lines, dropping absurd ones. */
export const linesOf = (text: string): string[] => text.split(/\r?\n/).filter((l) => l.length <= MAX_LINE);
