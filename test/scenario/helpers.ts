import { ScenarioError } from '../../src/util/errors.js';

export const FIXTURES = 'test/scenario/fixtures';

/** The ScenarioError a load rejects with (fails the test if it resolves or rejects with anything else). */
export async function scenarioError(load: Promise<unknown>): Promise<ScenarioError> {
  try {
    await load;
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw new Error(`expected a ScenarioError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected the load to fail, but it succeeded');
}

/** Lines of an error message. */
export function lines(err: Error): string[] {
  return err.message.split('\n');
}
