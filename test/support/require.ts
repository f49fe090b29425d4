/**
 * Skips a test for lack of a capability on a developer machine; in CI (MESHCONFORM_REQUIRE_ALL=1) the missing
 * capability is a failure instead, so a skipped test can never count as passing there.
 */
export function requireCapability(ctx: Mocha.Context, available: boolean, what: string): void {
  if (available) return;
  if (process.env.MESHCONFORM_REQUIRE_ALL === '1') throw new Error(`required capability missing in CI: ${what}`);
  ctx.skip();
}
