/**
 * A minimal streaming Matroska writer for raw yuv420p frames with explicit timestamps.
 * vidkompy pipes composited frames to ffmpeg in this form so the encoder receives fg's
 * exact presentation times (variable frame rate included), which a plain rawvideo pipe
 * cannot carry.
 * @module
 */

function idBytes(id: number): number[] {
  const out: number[] = [];
  let v = id;
  while (v > 0) {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return out;
}

/** EBML variable-length size, always 8 bytes (simple and valid for any size). */
function sizeBytes(size: number): number[] {
  const out = new Array<number>(8);
  out[0] = 0x01;
  let v = size;
  for (let i = 7; i >= 1; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

function uintBytes(v: number): number[] {
  const out: number[] = [];
  let x = v;
  do {
    out.unshift(x % 256);
    x = Math.floor(x / 256);
  } while (x > 0);
  return out;
}

function element(id: number, payload: number[]): number[] {
  return [...idBytes(id), ...sizeBytes(payload.length), ...payload];
}

function uintEl(id: number, v: number): number[] {
  return element(id, uintBytes(v));
}

function strEl(id: number, s: string): number[] {
  return element(id, [...new TextEncoder().encode(s)]);
}

/** Timestamp unit of the stream: 1 µs. */
export const MKV_TIMESTAMP_SCALE_NS = 1000;

/** Builds the stream header: EBML header, an unknown-size Segment, Info and Tracks. */
export function mkvHeader(width: number, height: number): Uint8Array {
  const ebml = element(0x1a45dfa3, [
    ...uintEl(0x4286, 1),
    ...uintEl(0x42f7, 1),
    ...uintEl(0x42f2, 4),
    ...uintEl(0x42f3, 8),
    ...strEl(0x4282, "matroska"),
    ...uintEl(0x4287, 4),
    ...uintEl(0x4285, 2),
  ]);
  const segmentStart = [...idBytes(0x18538067), 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const info = element(0x1549a966, [
    ...uintEl(0x2ad7b1, MKV_TIMESTAMP_SCALE_NS),
    ...strEl(0x4d80, "vidkompy"),
    ...strEl(0x5741, "vidkompy"),
  ]);
  const video = element(0xe0, [
    ...uintEl(0xb0, width),
    ...uintEl(0xba, height),
    ...element(0x2eb524, [0x49, 0x34, 0x32, 0x30]), // ColourSpace "I420"
  ]);
  const track = element(0xae, [
    ...uintEl(0xd7, 1),
    ...uintEl(0x73c5, 1),
    ...uintEl(0x83, 1),
    ...uintEl(0x9c, 0),
    ...strEl(0x86, "V_UNCOMPRESSED"),
    ...video,
  ]);
  const tracks = element(0x1654ae6b, track);
  return new Uint8Array([...ebml, ...segmentStart, ...info, ...tracks]);
}

/**
 * Builds the bytes that precede one frame's payload: a Cluster holding the timestamp and a
 * SimpleBlock whose data is the `frameBytes`-long raw frame written right after.
 * `timestampUs` is the frame's time in microseconds (≥ 0).
 */
export function mkvFramePrefix(timestampUs: number, frameBytes: number): Uint8Array {
  const ts = uintEl(0xe7, Math.max(0, Math.round(timestampUs)));
  const blockHeader = [0x81, 0x00, 0x00, 0x80]; // track 1, relative time 0, keyframe
  const blockSize = blockHeader.length + frameBytes;
  const simpleBlockHead = [...idBytes(0xa3), ...sizeBytes(blockSize), ...blockHeader];
  const clusterPayloadSize = ts.length + simpleBlockHead.length + frameBytes;
  return new Uint8Array([
    ...idBytes(0x1f43b675),
    ...sizeBytes(clusterPayloadSize),
    ...ts,
    ...simpleBlockHead,
  ]);
}
