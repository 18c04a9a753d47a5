/** A manually driven clock for tests that need time to pass (404 spacing, job age, job progress). */
export class TestClock {
  constructor(public t = Date.UTC(2026, 10, 21, 12, 0, 0)) {}
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
