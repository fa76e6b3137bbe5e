/**
 * A trading symbol in any venue's or signal service's spelling → the BingX perpetual `BASE-QUOTE`
 * (pure).
 *
 * Invariants: the answer is always `BASE-USDT` or `BASE-USDC` with a base of 1-20 capital letters
 * or digits; a pair quoted in anything else, or one that could be read two ways, is refused with a
 * problem naming the accepted forms — never guessed.
 */
import { bad, ok, type Parse, placeholderIn, placeholderProblem, show } from "./alertValues.ts"

/** Quote currencies of BingX perpetual swaps. */
export const QUOTES = ["USDT", "USDC"] as const
const OTHER_QUOTES = ["BUSD", "FDUSD", "TUSD", "USD", "EUR", "BTC", "ETH"]
/** Stablecoin quotes: a base that ends in one of them is itself a pair, not a coin. */
const STABLE_QUOTES = ["USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD"]
/** Other venues' names for a coin BingX lists under another ticker (BitMEX, Kraken, KuCoin: XBT). */
const BASE_ALIASES: Readonly<Record<string, string>> = { XBT: "BTC" }

/**
 * Perpetual markers after the pair: TradingView `.P` (most venues) and `.PS` (BingX's own perpetual
 * swaps, `BINGX:BTCUSDT.PS`), `PERP` / `.PERP` / `-PERP` / `_PERP` (Binance, FTX), `-SWAP` / `.SWAP` /
 * `_SWAP` (OKX), Bitget's `_UMCBL` (USDT-margined perpetual).
 */
const PERPETUAL_SUFFIX = /(?:[.\-_ ]?(?:PERP|SWAP)|\.PS?|_UMCBL)$/
/** KuCoin futures: `XBTUSDTM`, `ETHUSDCM` (the quote, then M). */
const KUCOIN_SUFFIX = /^([A-Z0-9]+)(USDT|USDC)M$/

/**
 * Any venue's or signal service's spelling of a BingX perpetual → `BASE-QUOTE`:
 * `BINGX:BTCUSDT.PS`, `BTCUSDT.PS`, `BINANCE:BTCUSDT.P`, `btc/usdt`, `BTC_USDT`, `USDT_BTC` (3Commas,
 * quote first), `USDT_BTCUSDT` (3Commas futures), `BTC-USDT-SWAP`, `BTCUSDTPERP`, `BTCUSDT_PERP`,
 * `BTC/USDT:USDT` (ccxt), `XBTUSDTM` (KuCoin), `BTCUSDT_UMCBL` (Bitget), `1000PEPEUSDT`, `BTC-PERP`
 * → `BTC-USDT`, `1000PEPE-USDT`… A pair whose quote is not USDT/USDC (`BTCUSD`, `ETHBTC`,
 * `BTC-PERPETUAL`) or that could be read two ways is refused, never guessed.
 */
export const normaliseSymbol = (input: string): Parse<string> => {
  const original = input.trim()
  if (original.length === 0) return bad("is empty")
  const placeholder = placeholderIn(original)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  if (original.length > 64) return bad("is too long for a symbol")
  let s = original.toUpperCase()
  // ccxt unified form BASE/QUOTE:SETTLE keeps the part before ':'; otherwise drop an EXCHANGE: prefix.
  const colon = s.lastIndexOf(":")
  if (colon !== -1) s = s.slice(0, colon).includes("/") ? s.slice(0, colon) : s.slice(colon + 1)
  let perpetual = false
  const stripped = s.replace(PERPETUAL_SUFFIX, "")
  if (stripped !== s) {
    perpetual = true
    s = stripped
  }
  const parts = s.split(/[-_/ ]+/).filter((p) => p.length > 0)
  const invalid = () =>
    bad<string>(
      `${show(original)} is not a symbol we can trade: BingX perpetuals are BASE-USDT or BASE-USDC (send e.g. "BTCUSDT", "BTC-USDT", "BINGX:BTCUSDT.PS" or "BINANCE:BTCUSDT.P")`
    )
  const isQuote = (p: string): p is typeof QUOTES[number] => (QUOTES as ReadonlyArray<string>).includes(p)
  const endsInStable = (p: string) => STABLE_QUOTES.some((q) => p.endsWith(q) && p.length > q.length)
  let base: string
  let quote: string
  if (parts.length === 2) {
    const [first, second] = [parts[0]!, parts[1]!]
    if (!isQuote(second) && isQuote(first)) {
      // 3Commas writes the quote first: USDT_BTC, and USDT_BTCUSDT for futures.
      base = second.endsWith(first) && second.length > first.length ? second.slice(0, second.length - first.length) : second
      quote = first
      if (endsInStable(base)) return invalid()
    } else {
      base = first
      quote = second
    }
  } else if (parts.length === 1) {
    const compact = parts[0]!
    const q = QUOTES.find((q) => compact.endsWith(q) && compact.length > q.length)
    const kucoin = perpetual ? undefined : KUCOIN_SUFFIX.exec(compact)
    if (q !== undefined) {
      base = compact.slice(0, compact.length - q.length)
      quote = q
    } else if (kucoin !== null && kucoin !== undefined) {
      base = kucoin[1]!
      quote = kucoin[2]!
    } else if (perpetual && OTHER_QUOTES.every((o) => !compact.endsWith(o) || compact.length === o.length)) {
      // BTC-PERP / BTCPERP: a perpetual without a quote is the USDT-margined one on BingX.
      base = compact
      quote = "USDT"
    } else {
      return invalid()
    }
  } else {
    return invalid()
  }
  base = BASE_ALIASES[base] ?? base
  if (!isQuote(quote) || base === quote) return invalid()
  if (!/^[A-Z0-9]{1,20}$/.test(base)) return invalid()
  return ok(`${base}-${quote}`)
}
