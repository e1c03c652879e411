import { expect, test } from "vitest";
import { parseFrames, previewFirst } from "../src/render.js";

test("preview-first order: the first, last and middle frames, then the rest in order, each once", () => {
  expect(previewFirst(parseFrames("1-9"))).toEqual([1, 9, 5, 2, 3, 4, 6, 7, 8]);
  expect(previewFirst(parseFrames("1-250"))).toEqual([1, 250, 125, ...parseFrames("2-124"), ...parseFrames("126-249")]);
  expect(previewFirst([7])).toEqual([7]);
  expect(previewFirst([3, 4])).toEqual([3, 4]);
  expect(previewFirst([])).toEqual([]);
  const frames = parseFrames("1-100x3");
  expect([...previewFirst(frames)].sort((a, b) => a - b)).toEqual(frames);
});
