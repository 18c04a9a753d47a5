/** The dashboard's one stylesheet, served from /admin/ui/assets/style.css (no inline styles: CSP). */
export const STYLE_CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
  --accent: #2360c8; --accent-soft: #e8f0fd; --ok: #146c3f; --ok-soft: #e3f4ea;
  --warn: #a86100; --warn-soft: #fdf1dc; --bad: #c0362c; --bad-soft: #fbe6e4;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { font-size: 14px; }
body { margin: 0; background: var(--bg); color: var(--text);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; line-height: 1.45; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
/* Links inside running text are underlined: colour alone does not tell them apart. */
p a, .muted a, li a, dd a { text-decoration: underline; }
header.top { background: #151b2c; color: #fff; }
header.top .bar { max-width: 1240px; margin: 0 auto; padding: 8px 20px; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 22px; min-height: 52px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; color: #fff; font-size: 1.05rem; }
header.top .brand span { color: #8fb3ff; font-weight: 500; }
header.top nav { display: flex; flex-wrap: wrap; gap: 4px; flex: 1; }
header.top nav a { color: #c9d2e6; padding: 6px 10px; border-radius: 6px; }
header.top nav a:hover { background: #242c42; text-decoration: none; color: #fff; }
header.top nav a.active { background: #2b3552; color: #fff; }
header.top form { margin: 0; }
header.top button { background: transparent; color: #c9d2e6; border: 1px solid #3a4560; }
header.top button:hover { background: #242c42; color: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 22px 20px 48px; }
h1 { font-size: 1.45rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 0 0 12px; }
h3 { font-size: .95rem; margin: 14px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
p.sub { color: var(--muted); margin: 0 0 18px; }
.muted { color: var(--muted); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 18px; }
.grid { display: grid; gap: 18px; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); align-items: start; }
.grid > * { min-width: 0; }
.grid > .panel { margin-bottom: 0; }
.spaced { margin-top: 18px; }
.page-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-end; gap: 16px; margin-bottom: 18px; }
.page-head p.sub { margin-bottom: 0; }
.trunc { display: inline-block; max-width: 17ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; }
th.group { text-align: center; border-bottom: 1px solid var(--line); }
.small { font-size: .8rem; }
details.explain summary { cursor: pointer; color: var(--muted); font-weight: 600; }
details.explain ul { margin: 10px 0 0; padding-left: 20px; color: var(--muted); }
details.explain li { margin-bottom: 4px; }
.spaced-bottom { margin-bottom: 12px; }
.stack { display: grid; gap: 18px; margin-bottom: 18px; }
.cards { display: grid; gap: 14px; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); margin-bottom: 18px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .label { color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.5rem; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .hint { color: var(--muted); font-size: .8rem; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; white-space: nowrap; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; background: #fafbfc; }
tbody tr:hover { background: #f7f9fd; }
td.num, th.num { text-align: right; }
td.wrap { white-space: normal; word-break: break-word; min-width: 12ch; }
/* Long ids in headings and text wrap instead of widening the page on a phone. */
h1, h2, p, .timeline li, .flash { overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; max-width: 100%; }
tfoot th, tfoot td { border-top: 2px solid var(--line); font-weight: 650; background: #fafbfc; }
tr.low td { background: #fffaf0; }
.mono { font-family: var(--mono); font-size: .86em; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: .8rem; font-weight: 600; background: #eef0f3; color: #475467; }
.badge.ok { background: var(--ok-soft); color: var(--ok); }
.badge.warn { background: var(--warn-soft); color: #8a4f00; }
.badge.bad { background: var(--bad-soft); color: var(--bad); }
.badge.info { background: var(--accent-soft); color: #1d4fa8; }
.flash { padding: 10px 14px; border-radius: 8px; margin-bottom: 16px; border: 1px solid; }
.flash.ok { background: var(--ok-soft); border-color: #b6e1c7; color: #135c37; }
.flash.error { background: var(--bad-soft); border-color: #f2c0bb; color: #8e231b; }
.secret { background: #fffbea; border: 1px solid #f0d67a; border-radius: 10px; padding: 16px 18px; margin-bottom: 18px; }
.secret code { display: block; font-family: var(--mono); font-size: 1rem; background: #fff; border: 1px dashed #d8b84a; padding: 10px 12px; border-radius: 6px; margin: 8px 0; word-break: break-all; user-select: all; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-end; }
form.stacked { display: grid; gap: 10px; max-width: 560px; }
form.stacked .row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
label { display: grid; gap: 3px; font-size: .85rem; color: var(--muted); font-weight: 550; }
label.check { display: flex; gap: 6px; align-items: center; color: var(--text); font-weight: 400; }
input, select { max-width: 100%; font: inherit; font-weight: 400; padding: 6px 9px; border: 1px solid #cfd4dc; border-radius: 6px; background: #fff; color: var(--text); min-width: 0; }
input:focus, select:focus { border-color: var(--accent); }
/* Keyboard focus is always visible (the browser default is lost on some custom-styled controls). */
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, .button:focus-visible { outline: 3px solid #2f6fde; outline-offset: 2px; border-radius: 4px; }
header.top a:focus-visible, header.top button:focus-visible { outline-color: #8fb3ff; }
main:focus { outline: none; }
.skip { position: absolute; left: 8px; top: -60px; background: #fff; color: var(--accent); padding: 8px 12px; border-radius: 6px; z-index: 10; font-weight: 600; }
.skip:focus { top: 8px; }
input[type=checkbox] { width: auto; }
button, .button { font: inherit; font-weight: 600; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; display: inline-block; }
button:hover, .button:hover { filter: brightness(1.07); text-decoration: none; }
.button.secondary, button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.actions { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
details.danger summary { cursor: pointer; color: var(--bad); font-weight: 600; }
details.danger form { margin-top: 10px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.pager { display: flex; flex-wrap: wrap; gap: 8px; justify-content: space-between; margin-top: 12px; }
.presets { display: flex; flex-wrap: wrap; gap: 4px; align-self: center; }
.presets a { padding: 5px 9px; border: 1px solid var(--line); border-radius: 999px; font-size: .85rem; background: #fff; }
.presets a.on { background: var(--accent-soft); border-color: var(--accent); font-weight: 600; }
.plus { color: var(--ok); } .minus { color: var(--bad); }
.kind { display: inline-block; font-size: .8rem; padding: 0 6px; border-radius: 4px; background: #eef0f3; color: #344054; }
.card.alert { border-color: #f0c36d; background: #fffaf0; }
th.sortable a { color: inherit; }
th[aria-sort] a { color: var(--text); }
.panel { min-width: 0; }
.chart { width: 100%; height: auto; display: block; }
.chart text { font-size: 11px; fill: #667085; font-family: inherit; }
.chart .grid-line { stroke: #eceef2; stroke-width: 1; }
.chart .axis { stroke: #c9ced6; stroke-width: 1; }
.chart .bar { fill: #2f6fde; }
.chart .bar:hover { fill: #1f55b5; }
.chart .bar.bad { fill: #d9534a; }
.chart .line-p50 { fill: none; stroke: #2f6fde; stroke-width: 2; }
.chart .line-p95 { fill: none; stroke: #e08a00; stroke-width: 2; }
.chart .dot-p50 { fill: #2f6fde; }
.chart .dot-p95 { fill: #e08a00; }
.chart .value-label { fill: #344054; font-size: 10px; }
.legend { display: flex; gap: 16px; font-size: .85rem; color: var(--muted); margin: 4px 0 8px; }
.legend i { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: 5px; }
.legend i.p50 { background: #2f6fde; } .legend i.p95 { background: #e08a00; } .legend i.fail { background: #d9534a; height: 10px; }
.hbar { display: block; height: 8px; }
.hbar rect.track { fill: #eef0f3; } .hbar rect.fill { fill: #2f6fde; }
.login { max-width: 420px; margin: 80px auto; }
@media (max-width: 600px) {
  main { padding: 14px 10px 36px; }
  .panel { padding: 12px; }
  form.stacked .row { grid-template-columns: 1fr; }
  header.top .bar { padding: 8px 10px; justify-content: space-between; }
  header.top nav { order: 3; flex-basis: 100%; }
  .login { margin: 24px auto; }
}
.login .panel { padding: 26px 28px; }
.login h1 { margin-bottom: 12px; }
.timeline { list-style: none; margin: 0; padding: 0; border-left: 2px solid var(--line); }
.timeline li { position: relative; padding: 0 0 14px 18px; }
.timeline li::before { content: ""; position: absolute; left: -7px; top: 5px; width: 12px; height: 12px; border-radius: 50%; background: #fff; border: 2px solid var(--accent); }
.timeline li.bad::before { border-color: var(--bad); }
.timeline li.ok::before { border-color: var(--ok); }
.timeline .when { font-family: var(--mono); font-size: .82rem; color: var(--muted); }
.timeline .what { font-weight: 600; }
ol.attempts { margin: 0; padding-left: 18px; min-width: 24ch; }
ol.attempts li { margin-bottom: 3px; }
ol.attempts li.bad::marker { color: var(--bad); }
ol.attempts li.ok::marker { color: var(--ok); }
ol.attempts .err { color: #8e231b; overflow-wrap: anywhere; }
`;
