import { describe, expect, it } from "@effect/vitest"
import { createHmac } from "node:crypto"
import { hmacSha256Hex, signParams } from "../../../src/exchange/bingx/sign.ts"

// BingX's published example secret (its API documentation's signing example).
const SECRET = "mheO6dR8ovSsxZQCOYEFCtelpuxcWGTfHw7te326y6jOwq5WpvFQ9JNljoTwBXZGv5It07m9RXSPpDQEK2w"

describe("BingX signing", () => {
  it.each([
    ["symbol=BTC-USDT&timestamp=1667872120843&side=LONG&leverage=6", "4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf"],
    ["recvWindow=0&symbol=BTC-USDT&timestamp=1696751141337", "f8d883609dfd31c824feb4de865b071008dedb1d461451fa70847875c8e7a7a2"],
    ["recvWindow=0&subAccountString=abc12345&timestamp=1696751141337", "8d0d3ea9b592be3678c33332ab13e9102e093e67255921e15a581146c87c272f"],
    ["symbol=BTC-USDT&timestamp=1668159715051side=LONG&leverage=6", "8b756b01e7a30f02e19c58a91ab01b29528694316b08a51ecb8dd072942bd47d"],
    ["recvWindow=5000&symbol=BTC-USDT&timestamp=1700000000000", "ad326f8ee127c9c9e130989c0959b9c1690c76d8a00561bfddcd05a16c92d71d"],
    ["orderId=1736011869418901234&symbol=BTC-USDT&timestamp=1700000000000", "df029ec7fef671d83e9c0c3061272bf53b6799b58bf720edd993cbbd07f2fe62"]
  ])("HMAC-SHA256 of %s", (payload, expected) => {
    expect(hmacSha256Hex(SECRET, payload)).toBe(expected)
  })

  it("signs with whichever secret it is given (the cached key follows a changed secret)", () => {
    const payload = "symbol=BTC-USDT&timestamp=1667872120843&side=LONG&leverage=6"
    const other = createHmac("sha256", "another-secret").update(payload).digest("hex")
    expect(hmacSha256Hex(SECRET, payload)).toBe("4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf")
    expect(hmacSha256Hex("another-secret", payload)).toBe(other)
    expect(hmacSha256Hex(SECRET, payload)).toBe("4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf")
    expect(hmacSha256Hex("", payload)).toBe(createHmac("sha256", "").update(payload).digest("hex"))
  })

  it("sorts a→z, signs raw JSON values and percent-encodes them on the wire (worked example)", () => {
    const signed = signParams({
      symbol: "BTC-USDT",
      side: "BUY",
      positionSide: "LONG",
      type: "MARKET",
      quantity: "0.001",
      clientOrderId: "tv-btc-0001",
      recvWindow: 5000,
      timestamp: 1700000000000,
      stopLoss: JSON.stringify({ type: "STOP_MARKET", stopPrice: 60000, workingType: "MARK_PRICE" })
    }, SECRET)
    expect(signed.signed).toBe(
      "clientOrderId=tv-btc-0001&positionSide=LONG&quantity=0.001&recvWindow=5000&side=BUY&stopLoss={\"type\":\"STOP_MARKET\",\"stopPrice\":60000,\"workingType\":\"MARK_PRICE\"}&symbol=BTC-USDT&timestamp=1700000000000&type=MARKET"
    )
    expect(signed.signature).toBe("e3ae5c0f733dfe93e370a5a641196e9309374cf435643800c5828c5a9f19f95e")
    expect(signed.query).toBe(
      "clientOrderId=tv-btc-0001&positionSide=LONG&quantity=0.001&recvWindow=5000&side=BUY&stopLoss=%7B%22type%22%3A%22STOP_MARKET%22%2C%22stopPrice%22%3A60000%2C%22workingType%22%3A%22MARK_PRICE%22%7D&symbol=BTC-USDT&timestamp=1700000000000&type=MARKET&signature=e3ae5c0f733dfe93e370a5a641196e9309374cf435643800c5828c5a9f19f95e"
    )
    // Signing the encoded string instead would give the other (wrong for query strings) HMAC.
    expect(signed.signature).not.toBe("201c248202642ffb327ce21c7aa7bd693e46dc23ffe89bef32bf11fdac454866")
  })

  it("drops undefined parameters and renders booleans as true/false", () => {
    const signed = signParams({ b: true, a: undefined, c: false, timestamp: 1 }, SECRET)
    expect(signed.signed).toBe("b=true&c=false&timestamp=1")
  })
})
