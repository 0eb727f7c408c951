import { describe, expect, it } from "vitest";
import { parseLenientJson } from "../../src/http/lenient-json.js";
import { DomainError } from "../../src/domain/errors.js";

describe("request bodies as CM clients send them", () => {
  it("reads strict JSON as JSON.parse does, commas inside strings included", () => {
    for (const text of ['{"a":"x,}","b":[1,2]}', '"api/v1.0/requests/1"', "[]", '{"s":"\\",]"}']) expect(parseLenientJson(text)).toEqual(JSON.parse(text));
  });

  it("accepts a trailing comma before } or ], and leaves commas in strings alone", () => {
    expect(parseLenientJson('{"requestid": "a,}", "cardid": "b",\n}')).toEqual({ requestid: "a,}", cardid: "b" });
    expect(parseLenientJson('{"datacollection": [{"Request Reason": "x",},],}')).toEqual({ datacollection: [{ "Request Reason": "x" }] });
  });

  it("takes an empty body as {} and refuses garbage with 400 MalformedJson", () => {
    expect(parseLenientJson("  \r\n")).toEqual({});
    for (const text of ["{", '{"a":}', "not json", "[1,,]"]) {
      const e = (() => {
        try {
          parseLenientJson(text);
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe("MalformedJson");
    }
  });
});
