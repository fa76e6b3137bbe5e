/**
 * Every metric of the service, defined once with Effect `Metric`. Names, types and labels follow
 * the seed's observability contract; `/metrics` renders them through prom-client
 * (`prometheus.ts`) and the OTel layer exports them over OTLP when telemetry is enabled.
 *
 * Label values must stay bounded: route templates (never raw paths), normalised symbols, enums.
 */
import { Metric } from "effect"

/** Seconds buckets for fast paths: 1 ms … 10 s. */
export const FAST_PATH_BUCKETS: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
]

// --- signals (backend) -------------------------------------------------------------------------
export const signalsIngested = Metric.counter("tradingview_signals_ingested_total", {
  description: "Count of TradingView signals persisted and queued.",
  incremental: true
})
export const signalIngestDuration = Metric.histogram("tradingview_signal_ingest_duration_seconds", {
  description: "Time to validate, persist, and publish TradingView signals.",
  boundaries: FAST_PATH_BUCKETS
})
export const webhookRejections = Metric.counter("tradingview_webhook_rejections_total", {
  description: "TradingView webhook requests rejected, by reason.",
  incremental: true
})
export const signalQueueDepth = Metric.gauge("tvtelegrambingx_signal_queue_depth", {
  description: "Current backlog of TradingView signals awaiting execution."
})
export const signalQueueWait = Metric.histogram("tvtelegrambingx_signal_queue_wait_seconds", {
  description: "Time an order waited between commit and the start of its execution.",
  boundaries: FAST_PATH_BUCKETS
})

// --- orders (backend) --------------------------------------------------------------------------
export const orderTransitions = Metric.counter("tvtelegrambingx_order_transitions_total", {
  description: "Order lifecycle transitions grouped by symbol and status.",
  incremental: true
})
export const orderNotional = Metric.counter("tvtelegrambingx_order_notional_usd_total", {
  description: "Aggregated notional value (USD) of filled orders by action.",
  incremental: true
})
export const orderSubmitDuration = Metric.histogram("tvtelegrambingx_order_submit_duration_seconds", {
  description: "Time to submit an order to the exchange (including retries).",
  boundaries: FAST_PATH_BUCKETS
})
export const orderSubmitFailures = Metric.counter("tvtelegrambingx_order_submit_failures_total", {
  description: "Order submissions that failed, by symbol and kind (transient, permanent, unknown).",
  incremental: true
})
export const exchangeRequestDuration = Metric.histogram("tvtelegrambingx_exchange_request_duration_seconds", {
  description: "Latency of single exchange API calls by endpoint.",
  boundaries: FAST_PATH_BUCKETS
})
export const breakerState = Metric.gauge("tvtelegrambingx_exchange_breaker_state", {
  description: "Exchange circuit breaker: 0 closed, 1 half-open, 2 open."
})

// --- PnL (backend) -----------------------------------------------------------------------------
export const realisedPnl = Metric.gauge("tvtelegrambingx_realised_pnl_usd", {
  description: "Realised PnL per symbol (position-aware average cost, before fees)."
})
export const realisedPnlTotal = Metric.gauge("tvtelegrambingx_realised_pnl_total_usd", {
  description: "Realised PnL aggregated across all symbols."
})

// --- notifications (backend) -------------------------------------------------------------------
export const notificationsDropped = Metric.counter("tvtelegrambingx_notifications_dropped_total", {
  description: "Telegram notifications dropped (queue overflow or delivery failure), by reason.",
  incremental: true
})

// --- bot (served on the :9000 exporter) --------------------------------------------------------
export const botBackendRequests = Metric.counter("tvtelegrambingx_bot_backend_requests_total", {
  description: "HTTP requests emitted by the Telegram bot to the backend.",
  incremental: true
})
export const botBackendRequestDuration = Metric.histogram("tvtelegrambingx_bot_backend_request_duration_seconds", {
  description: "Latency for bot-to-backend traffic.",
  boundaries: FAST_PATH_BUCKETS
})
export const botUpdates = Metric.counter("tvtelegrambingx_bot_updates_total", {
  description: "Processed Telegram messages and callback queries.",
  incremental: true
})

/**
 * `Metric.withAttributes(metric, attributes)` for label values that repeat (symbols, reasons,
 * endpoints): each distinct label set is tagged once and reused, so a hot path does not build a
 * new tagged metric (and its series key) on every update. Bounded (label values are bounded by
 * contract; the cache is simply rebuilt if that is ever violated).
 */
export const taggedBy = <In, Out>(metric: Metric.Metric<In, Out>, maxSeries = 1_000) => {
  const cache = new Map<string, Metric.Metric<In, Out>>()
  return (attributes: Readonly<Record<string, string>>): Metric.Metric<In, Out> => {
    let key = ""
    for (const name in attributes) key += `${name}\u0000${attributes[name]}\u0001`
    let tagged = cache.get(key)
    if (tagged === undefined) {
      if (cache.size >= maxSeries) cache.clear()
      tagged = Metric.withAttributes(metric, attributes)
      cache.set(key, tagged)
    }
    return tagged
  }
}

export type Exporter = "backend" | "bot"

export interface CatalogEntry {
  readonly metric: Metric.Metric<any, any>
  readonly exporter: Exporter
  /**
   * The label names of its series (`Metric.withAttributes` keys), for documentation and tests;
   * `[]` = one unlabelled series, shown at 0 before its first update.
   */
  readonly labels?: ReadonlyArray<string>
}

/** Every metric and the exporter that serves it; `/metrics` lists all of them, even before use. */
export const catalog: ReadonlyArray<CatalogEntry> = [
  { metric: signalsIngested, exporter: "backend", labels: ["symbol", "action"] },
  { metric: signalIngestDuration, exporter: "backend", labels: ["symbol"] },
  { metric: webhookRejections, exporter: "backend", labels: ["reason"] },
  { metric: signalQueueDepth, exporter: "backend", labels: ["queue"] },
  { metric: signalQueueWait, exporter: "backend", labels: [] },
  { metric: orderTransitions, exporter: "backend", labels: ["symbol", "status"] },
  { metric: orderNotional, exporter: "backend", labels: ["symbol", "action"] },
  { metric: orderSubmitDuration, exporter: "backend", labels: ["symbol"] },
  { metric: orderSubmitFailures, exporter: "backend", labels: ["symbol", "kind"] },
  { metric: exchangeRequestDuration, exporter: "backend", labels: ["endpoint"] },
  { metric: breakerState, exporter: "backend", labels: [] },
  { metric: realisedPnl, exporter: "backend", labels: ["symbol"] },
  { metric: realisedPnlTotal, exporter: "backend", labels: [] },
  { metric: notificationsDropped, exporter: "backend", labels: ["reason"] },
  { metric: botBackendRequests, exporter: "bot", labels: ["method", "path", "status"] },
  { metric: botBackendRequestDuration, exporter: "bot", labels: ["method", "path"] },
  { metric: botUpdates, exporter: "bot", labels: ["type"] }
]
