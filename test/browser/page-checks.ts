import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';

/**
 * Checks every dashboard page gets: axe-core finds no serious or critical accessibility violation,
 * no table is wider than its card at 1366 px, the page does not scroll sideways at 420 px (tables
 * scroll inside their card), and a full-page screenshot at both widths under test-artifacts/.
 */
export const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');
export const WIDE = { width: 1366, height: 900 };
export const NARROW = { width: 420, height: 900 };

// axe-core is a devDependency; it is injected into the page as a script source.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Serious and critical axe-core violations of the page as it is now, one line each. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (no script) does not apply to it.
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

/**
 * Tables that stick out of their card at the current width. A table inside a .table-wrap may be
 * wider than the card (the wrapper scrolls); the wrapper itself must stay inside the card.
 */
export async function tablesOutsideCards(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('table')].flatMap((t) => {
      const card = t.closest('.panel, .card');
      if (!card) return [`${t.id || 'a table'} is not inside a card`];
      const box = (t.closest('.table-wrap') ?? t).getBoundingClientRect();
      const c = card.getBoundingClientRect();
      return box.right > c.right + 0.5 || box.left < c.left - 0.5 ? [`${t.id || 'table'}: ${Math.round(box.width)}px box sticks out of a ${Math.round(c.width)}px card`] : [];
    }),
  );
}

/** Tables wider than their card even though they are not allowed to scroll (at 1366 px none may). */
export async function tablesWiderThanCards(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('table')].flatMap((t) => {
      const card = t.closest('.panel, .card');
      if (!card) return [`${t.id || 'a table'} is not inside a card`];
      return t.scrollWidth > card.clientWidth ? [`${t.id || 'table'}: ${t.scrollWidth}px wide in a card of ${card.clientWidth}px`] : [];
    }),
  );
}

/** Pairs of x-axis labels of a chart whose boxes overlap on screen. */
export async function overlappingLabels(page: Page, chart: string): Promise<{ labels: number; overlaps: string[] }> {
  return page.evaluate((sel) => {
    const boxes = [...document.querySelectorAll(`${sel} text.x-label`)].map((e) => ({ text: e.textContent ?? '', r: e.getBoundingClientRect() }));
    const overlaps: string[] = [];
    for (let i = 1; i < boxes.length; i++) {
      const a = boxes[i - 1]!;
      const b = boxes[i]!;
      if (a.r.right > b.r.left && b.r.right > a.r.left && a.r.bottom > b.r.top && b.r.bottom > a.r.top) overlaps.push(`${a.text} / ${b.text}`);
    }
    return { labels: boxes.length, overlaps };
  }, chart);
}

/**
 * The checks of one page, at 1366 px then 420 px, with a screenshot at each; the page is left at
 * 1366 px. Fails the test on any accessibility or layout problem.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize(WIDE);
  expect(await axeViolations(page), `${name}: axe-core`).toEqual([]);
  expect(await tablesWiderThanCards(page), `${name}: tables at 1366 px`).toEqual([]);
  await page.screenshot({ path: join(SHOTS, `${name}-1366.png`), fullPage: true });

  await page.setViewportSize(NARROW);
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(sideways, `${name}: the page scrolls sideways at 420 px`).toBeLessThanOrEqual(0);
  expect(await tablesOutsideCards(page), `${name}: tables at 420 px`).toEqual([]);
  expect(await axeViolations(page), `${name}: axe-core at 420 px`).toEqual([]);
  await page.screenshot({ path: join(SHOTS, `${name}-420.png`), fullPage: true });
  await page.setViewportSize(WIDE);
}
