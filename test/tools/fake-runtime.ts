import { ToolRuntime } from '../../tools/common/runtime';

/** A runtime whose clock only moves when a tool sleeps, recording every sleep and log line. */
export function fakeRuntime(start: number): { clock: { t: number }; logs: string[]; sleeps: number[]; runtime: ToolRuntime } {
  const clock = { t: start };
  const logs: string[] = [];
  const sleeps: number[] = [];
  return {
    clock,
    logs,
    sleeps,
    runtime: {
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.t += ms;
      },
      now: () => clock.t,
      log: (line) => logs.push(line),
      retry: { random: () => 0.5 },
    },
  };
}
