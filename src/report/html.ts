/** One self-contained HTML page: inline CSS and SVG, no scripts, no external references. All text is escaped. */

export type Cell = string | number | null | undefined;

export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'keyValue'; rows: Record<string, Cell> }
  | { kind: 'table'; header: string[]; rows: Cell[][] }
  /** `svg`: trusted SVG markup from renderSvg. */
  | { kind: 'chart'; title: string; svg: string };

export interface Section {
  heading: string;
  blocks: Block[];
}

export interface ReportContent {
  title: string;
  sections: Section[];
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI","DejaVu Sans",Arial,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;border-bottom:2px solid #ddd;padding-bottom:.3rem}
h2{font-size:1.25rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5}
figure{margin:1rem 0;overflow-x:auto}
figure svg{max-width:100%;height:auto}
figcaption{font-weight:600;margin-bottom:.3rem}
footer{margin-top:3rem;color:#888;font-size:.8rem}
`.trim();

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Numbers as in the CLI: integers as they are, others with 4 decimals; missing values as n/a. */
export function formatCell(v: Cell): string {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number.isFinite(v) ? v.toFixed(4) : String(v);
  return v;
}

function td(v: Cell): string {
  const numeric = typeof v === 'number' || (typeof v === 'string' && /^[-+]?[\d.]+( ± [\d.]+)?$/.test(v));
  return `<td${numeric ? ' class="num"' : ''}>${escapeHtml(formatCell(v))}</td>`;
}

/**
 * For inlining: without the XML prolog and namespace declarations (the HTML parser puts <svg> in the SVG
 * namespace itself), so the page holds no URL at all.
 */
export function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/^<svg([^>]*)>/, (_, attrs: string) => `<svg${attrs.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '')}>`);
}

function block(b: Block): string {
  switch (b.kind) {
    case 'text':
      return `<p>${escapeHtml(b.text)}</p>`;
    case 'keyValue':
      return `<table class="kv"><tbody>${Object.entries(b.rows).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th>${td(v)}</tr>`).join('')}</tbody></table>`;
    case 'table':
      return `<table><thead><tr>${b.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`
        + `<tbody>${b.rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('')}</tbody></table>`;
    case 'chart':
      return `<figure><figcaption>${escapeHtml(b.title)}</figcaption>${inlineSvg(b.svg)}</figure>`;
  }
}

export function renderReport({ title, sections }: ReportContent): string {
  const body = sections.map((s) => `<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.blocks.map(block).join('\n')}\n</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<footer>${escapeHtml(`esmm report, ${new Date().toISOString()}`)}</footer>
</body>
</html>
`;
}
