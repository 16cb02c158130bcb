import { assert, assertEquals } from "../tests/assert.ts";
import {
  MIN_SPATIAL_CONFIDENCE,
  MIN_TEMPORAL_CONFIDENCE,
  noAlignmentReason,
  SPATIAL_RESCUE_TEMPORAL,
  WEAK_MATCH,
  weakMatchNotice,
} from "./auto_align.ts";

Deno.test("alignments are refused on a poor frame map, or a poor searched placement", () => {
  assertEquals([MIN_SPATIAL_CONFIDENCE, MIN_TEMPORAL_CONFIDENCE, SPATIAL_RESCUE_TEMPORAL], [
    0.4,
    0.5,
    0.9,
  ]);
  // good pairs of the tests and benches
  assertEquals(noAlignmentReason(0.99, 0.99, true), null);
  assertEquals(noAlignmentReason(0.82, 0.8, true), null);
  // unrelated inputs: the frame map says so
  const t = noAlignmentReason(0.06, 0.01, true);
  assert(t?.includes("do not show the same footage") && t.includes("0.010"), String(t));
  assert(noAlignmentReason(0.9, 0.49, true) !== null);
  // a poorly matching searched placement (a stretched fg, measured: 0.347 / 0.786) ...
  const s = noAlignmentReason(0.347, 0.786, true);
  assert(s?.includes("not found inside bg") && s.includes("0.347"), String(s));
  assert(s?.includes("stretched"), String(s));
  // ... unless the frame map is clearly right, or the user gave the placement
  assertEquals(noAlignmentReason(0.347, 0.95, true), null);
  assertEquals(noAlignmentReason(0.2, 0.786, false), null);
  // unknown confidences (a given time offset, a given placement) never refuse
  assertEquals(noAlignmentReason(null, null, false), null);
  assertEquals(noAlignmentReason(0.9, null, true), null);
});

Deno.test("an accepted alignment weak in both space and time gets a notice", () => {
  assertEquals(WEAK_MATCH, 0.9);
  const n = weakMatchNotice(0.8, 0.801, true);
  assert(n?.includes("only weakly") && n.includes("0.800") && n.includes("0.801"), String(n));
  assert(n?.includes("--x/--y"), String(n));
  // strong in either: none
  assertEquals(weakMatchNotice(0.938, 0.6, true), null);
  assertEquals(weakMatchNotice(0.85, 0.942, true), null);
  assertEquals(weakMatchNotice(0.9, 0.9, true), null);
  // a given placement, or unknown confidences: none
  assertEquals(weakMatchNotice(0.5, 0.5, false), null);
  assertEquals(weakMatchNotice(null, 0.5, true), null);
  assertEquals(weakMatchNotice(0.5, null, true), null);
});
