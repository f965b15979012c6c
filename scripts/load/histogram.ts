/**
 * Latency summaries from HDR histograms (hdr-histogram-js): values recorded in microseconds, 3
 * significant digits, reported in milliseconds.
 */
import * as hdr from 'hdr-histogram-js';

interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One hour in microseconds: the largest latency a histogram tracks. */
const HIGHEST_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Records milliseconds (clamped to 1 µs .. 1 h). */
function record(histogram: hdr.Histogram, valueMs: number): void {
  histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(valueMs * 1000))));
}

/** Percentiles in ms; an empty histogram answers undefined. */
function summarize(histogram: hdr.Histogram): LatencySummary | undefined {
  if (histogram.totalCount === 0) return undefined;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p95: ms(histogram.getValueAtPercentile(95)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
  };
}

/** A summary of plain values (ms). */
function summarizeValues(valuesMs: Iterable<number>): LatencySummary | undefined {
  const histogram = newHistogram();
  for (const value of valuesMs) record(histogram, value);
  const summary = summarize(histogram);
  histogram.destroy();
  return summary;
}

/** Points of the percentile spectrum (for the latency-by-percentile chart): [percentile, ms]. */
function spectrum(histogram: hdr.Histogram): [number, number][] {
  if (histogram.totalCount === 0) return [];
  const points = [0, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99, 100];
  return points.map((p) => [p, ms(p === 100 ? histogram.maxValue : histogram.getValueAtPercentile(p))]);
}

export { newHistogram, record, spectrum, summarize, summarizeValues };
export type { LatencySummary };
