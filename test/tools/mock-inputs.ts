/** Test helper: the inputs an aws-sdk-client-mock stub received for one command type (aws-sdk-client-mock-jest is not installed). */

interface RecordedCalls {
  calls(): ReadonlyArray<{ readonly args: readonly unknown[] }>;
}

/** Inputs of every `command` the mocked client was sent, in call order. */
export function inputs(mock: RecordedCalls, command: abstract new (...args: never[]) => { readonly input: unknown }): unknown[] {
  return mock
    .calls()
    .map((call) => call.args[0])
    .filter((sent): sent is { input: unknown } => sent instanceof command)
    .map((sent) => sent.input);
}
