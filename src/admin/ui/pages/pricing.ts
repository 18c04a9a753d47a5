import { html } from 'hono/html';
import type { Hono } from 'hono';
import type { Deps } from '../../../deps.js';
import { presentPricing } from '../../present.js';
import { parseUsd } from '../../../money.js';
import { page } from '../layout.js';
import { usd } from '../format.js';
import type { UiEnv } from '../context.js';

/** The effective price catalog (GET /admin/pricing): the built-in prices merged with PRICING_FILE. */
export function registerPricingPage(app: Hono<UiEnv>, deps: Deps): void {
  app.get('/pricing', (c) => {
    const models = presentPricing(deps.catalog);
    const source = deps.config.pricingFile ? html`the built-in prices merged with <span class="mono">${deps.config.pricingFile}</span> (PRICING_FILE)` : 'the built-in prices (no PRICING_FILE is set)';
    return c.html(
      page(
        c.get('session'),
        'pricing',
        'Pricing',
        html`<h1>Pricing</h1>
<p class="sub">What reelay charges per model: ${source}. A job holds its price when it is created and is charged only when it completes. A model missing here is refused, never run for free.</p>
<section class="panel">
  <div class="table-wrap" tabindex="0"><table id="pricing-table"><thead><tr><th>Model</th><th>Priced</th><th>Size</th><th class="num">Price</th><th>Seconds</th><th>Defaults</th><th>Extension seconds</th></tr></thead><tbody>
  ${models.flatMap((m) => {
    const sizes = m.per_second_usd ? Object.entries(m.per_second_usd).map(([size, p]) => [size, `${usd(parseUsd(p))} / s`] as const) : (m.sizes.length ? m.sizes : ['any']).map((size) => [size, `${usd(parseUsd(m.per_request_usd!))} / video`] as const);
    return sizes.map(
      ([size, price], i) => html`<tr data-model="${m.model}">${i === 0 ? html`<td rowspan="${sizes.length}"><strong>${m.model}</strong></td><td rowspan="${sizes.length}">${m.pricing === 'per_second' ? 'per second' : 'per video'}</td>` : ''}
      <td class="mono">${size}</td><td class="num">${price}</td>
      ${i === 0 ? html`<td rowspan="${sizes.length}">${m.seconds.join(', ')}</td><td rowspan="${sizes.length}">${m.default_seconds} s · <span class="mono">${m.default_size}</span></td><td rowspan="${sizes.length}">${m.extension_seconds.length ? m.extension_seconds.join(', ') : '—'}</td>` : ''}</tr>`,
    );
  })}
  </tbody></table></div>
</section>`,
      ),
    );
  });
}
