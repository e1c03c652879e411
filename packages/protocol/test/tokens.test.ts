import { describe, expect, test } from "vitest";
import {
  TokenError,
  TokenErrorCode,
  decodeToken,
  encodeToken,
  keyForClient,
  subjectForClient,
  subjectForGroup,
} from "@blender-fabric/protocol";

describe("token encoding", () => {
  test("leaves ordinary ids readable", () => {
    expect(encodeToken("blender-demo01")).toBe("blender-demo01");
    expect(encodeToken("render_cluster")).toBe("render_cluster");
  });

  test("escapes every character outside [A-Za-z0-9_-] as =XX per UTF-8 byte", () => {
    expect(encodeToken("alice@example.com")).toBe("alice=40example=2Ecom");
    expect(encodeToken("a=b")).toBe("a=3Db");
    expect(encodeToken("é")).toBe("=C3=A9");
  });

  test.each(["a.b", "user.>", "*", ">", "a b", "tab\there", "new\nline", "x.*.y", "🙂", "=41"])(
    "round-trips %j without any subject metacharacter",
    (id) => {
      const token = encodeToken(id);
      expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(decodeToken(token)).toBe(id);
    },
  );

  test("refuses empty and over-long ids with a code", () => {
    const codeOf = (id: string) => {
      try {
        encodeToken(id);
      } catch (error) {
        return (error as TokenError).code;
      }
      return "accepted";
    };
    expect(codeOf("")).toBe(TokenErrorCode.Empty);
    expect(codeOf("x".repeat(257))).toBe(TokenErrorCode.TooLong);
    expect(encodeToken("x".repeat(256))).toHaveLength(256);
  });

  test("refuses tokens it could not have produced", () => {
    for (const bad of ["a.b", "=4", "=zz", "a b", ""]) {
      expect(() => decodeToken(bad)).toThrowError(TokenError);
    }
  });

  test("subjects and keys keep one token per identifier", () => {
    expect(subjectForClient("alice@x.io", "llm.>")).toBe("user.alice=40x=2Eio.client.llm=2E=3E");
    expect(subjectForGroup("bob", "render cluster").split(".")).toHaveLength(4);
    expect(keyForClient("a.b", "c.d").split(".")).toEqual(["a=2Eb", "c=2Ed"]);
  });
});
