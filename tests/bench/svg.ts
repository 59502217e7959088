/**
 * A hand-written SVG line chart: total upload throughput (MiB/s, median over
 * runs) against the number of parallel streams, one line per tool.
 */

export interface Series {
  name: string;
  color: string;
  /** [streams, MiB/s] points; missing points are skipped. */
  points: [number, number][];
}

const W = 640;
const H = 400;
const PAD = { left: 70, right: 150, top: 50, bottom: 60 };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A "nice" axis maximum and step above `max`. */
function niceScale(max: number): { top: number; step: number } {
  const raw = Math.max(max, 1) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step || step, step };
}

export function throughputChart(title: string, xs: number[], series: Series[]): string {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const maxY = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const { top, step } = niceScale(maxY * 1.05);
  // Streams are 1, 2, 4, 8: a log2 x axis spaces them evenly.
  const lx = xs.map(Math.log2);
  const x0 = Math.min(...lx);
  const x1 = Math.max(...lx);
  const inset = 30; // keep end points off the frame
  const px = (x: number) =>
    PAD.left + inset + ((Math.log2(x) - x0) / (x1 - x0 || 1)) * (plotW - 2 * inset);
  const py = (y: number) => PAD.top + plotH - (y / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let y = 0; y <= top + step / 2; y += step) {
    const yy = py(y).toFixed(1);
    out.push(
      `<line x1="${PAD.left}" y1="${yy}" x2="${PAD.left + plotW}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${PAD.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${
        Number(y.toFixed(2))
      }</text>`,
    );
  }
  for (const x of xs) {
    const xx = px(x).toFixed(1);
    out.push(
      `<line x1="${xx}" y1="${PAD.top}" x2="${xx}" y2="${PAD.top + plotH}" stroke="#eee"/>`,
      `<text x="${xx}" y="${PAD.top + plotH + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  out.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${H - 18}" text-anchor="middle">parallel streams</text>`,
    `<text transform="translate(20 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">` +
      `total MiB/s</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length) {
      const d = pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ");
      out.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
      for (const [x, y] of pts) {
        out.push(
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="${s.color}"/>`,
          `<text x="${px(x).toFixed(1)}" y="${(py(y) - 9).toFixed(1)}" text-anchor="middle" ` +
            `fill="${s.color}">${y.toFixed(0)}</text>`,
        );
      }
    }
    const ly = PAD.top + 20 + i * 22;
    const lx0 = PAD.left + plotW + 15;
    out.push(
      `<line x1="${lx0}" y1="${ly}" x2="${
        lx0 + 24
      }" y2="${ly}" stroke="${s.color}" stroke-width="2.5"/>`,
      `<text x="${lx0 + 30}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
