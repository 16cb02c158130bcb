/**
 * WebGPU device acquisition and shared plumbing for the compute kernels.
 *
 * - {@link acquireGpu} requests the adapter and device once per process and caches the result
 *   (`null` when there is no adapter, or when `VIDKOMPY_NO_GPU=1`; {@link gpuUnavailableReason}
 *   says why). It reports whether the adapter is a fallback (software) adapter, e.g. lavapipe.
 * - {@link GpuContext.pipeline} compiles each kernel once (from the embedded WGSL of
 *   `shaders_embedded.ts`) and reuses it.
 * - {@link runKernelOnce} runs one kernel on fresh buffers; it is the non-hot-path helper the
 *   parity tests use. The hot paths (`embed_gpu.ts`, `fft_gpu.ts`, `ncc_gpu.ts`,
 *   `distance_gpu.ts`) keep their buffers and make one round trip per batch.
 *
 * On the software adapter every GPU round trip (submit + map) costs ≈ 11 ms, so work must be
 * batched: many frames or image pairs per dispatch.
 * @module
 */
import { type ShaderName, SHADERS } from "./shaders_embedded.ts";

/** What is known about the adapter. */
export interface GpuAdapterSummary {
  /** Adapter description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  /** Vendor string or id. */
  vendor: string;
  /** Architecture string. */
  architecture: string;
  /** True for a fallback (software) adapter such as lavapipe / SwiftShader / WARP. */
  isFallbackAdapter: boolean;
}

/** A WebGPU device with its kernels. */
export interface GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** Adapter facts. */
  readonly adapter: GpuAdapterSummary;
  /** True once the device was lost or destroyed. */
  readonly lost: boolean;
  /**
   * The compute pipeline of a kernel (compiled once, cached). Call {@link GpuContext.prepare}
   * first to get compilation errors as exceptions.
   */
  pipeline(name: ShaderName): GPUComputePipeline;
  /** Compiles the kernels (once each); rejects with the WGSL/validation error, if any. */
  prepare(names: readonly ShaderName[]): Promise<void>;
}

let cached: Promise<GpuContext | null> | null = null;
let reason = "not requested yet";

/**
 * Mesa's WSI probing prints "XDG_RUNTIME_DIR is invalid or not set" when it is unset; setting it
 * (in-process, before the first adapter request) silences that. Only done when env access is
 * already granted.
 */
function quietMesa(): void {
  try {
    if (Deno.build.os !== "linux") return;
    if (
      Deno.permissions.querySync({ name: "env", variable: "XDG_RUNTIME_DIR" }).state !== "granted"
    ) {
      return;
    }
    if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  } catch {
    // best effort
  }
}

class Context implements GpuContext {
  readonly device: GPUDevice;
  readonly adapter: GpuAdapterSummary;
  lost = false;
  private readonly pipelines = new Map<ShaderName, GPUComputePipeline>();

  constructor(device: GPUDevice, adapter: GpuAdapterSummary) {
    this.device = device;
    this.adapter = adapter;
    device.lost.then(() => {
      this.lost = true;
      if (cachedContext === this) {
        cached = null;
        cachedContext = null;
        reason = "the WebGPU device was lost";
      }
    });
  }

  pipeline(name: ShaderName): GPUComputePipeline {
    let p = this.pipelines.get(name);
    if (!p) {
      const module = this.device.createShaderModule({ label: name, code: SHADERS[name] });
      p = this.device.createComputePipeline({
        label: name,
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.pipelines.set(name, p);
    }
    return p;
  }

  async prepare(names: readonly ShaderName[]): Promise<void> {
    for (const name of names) {
      if (this.pipelines.has(name)) continue;
      this.device.pushErrorScope("validation");
      const module = this.device.createShaderModule({ label: name, code: SHADERS[name] });
      let p: GPUComputePipeline | null = null;
      let failure = "";
      try {
        p = await this.device.createComputePipelineAsync({
          label: name,
          layout: "auto",
          compute: { module, entryPoint: "main" },
        });
      } catch (e) {
        failure = e instanceof Error ? e.message : String(e);
      }
      const err = await this.device.popErrorScope();
      if (err || !p) {
        throw new Error(`WebGPU kernel ${name} failed to compile: ${err?.message ?? failure}`);
      }
      this.pipelines.set(name, p);
    }
  }
}

let cachedContext: Context | null = null;

/** True when `VIDKOMPY_NO_GPU` is set to a non-empty value other than "0" (env access needed). */
function gpuDisabledByEnv(): boolean {
  try {
    const v = Deno.env.get("VIDKOMPY_NO_GPU");
    return v !== undefined && v !== "" && v !== "0";
  } catch {
    return false;
  }
}

async function requestContext(): Promise<GpuContext | null> {
  if (gpuDisabledByEnv()) {
    reason = "WebGPU disabled by VIDKOMPY_NO_GPU";
    return null;
  }
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) {
    reason = "navigator.gpu is not available in this runtime";
    return null;
  }
  quietMesa();
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    reason = `requestAdapter failed: ${e instanceof Error ? e.message : String(e)}`;
    return null;
  }
  if (!adapter) {
    reason = "no WebGPU adapter (no GPU driver, and no software Vulkan such as Mesa lavapipe)";
    return null;
  }
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  const infoFallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter;
  const legacyFallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const summary: GpuAdapterSummary = {
    description: info?.description ?? "",
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    isFallbackAdapter: Boolean(infoFallback ?? legacyFallback ?? false),
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  } catch (e) {
    reason = `requestDevice failed: ${e instanceof Error ? e.message : String(e)}`;
    return null;
  }
  const ctx = new Context(device, summary);
  cachedContext = ctx;
  reason = "";
  return ctx;
}

/**
 * The process-wide WebGPU context, created on first use; `null` when no adapter or device can be
 * had (see {@link gpuUnavailableReason}). Never throws.
 */
export function acquireGpu(): Promise<GpuContext | null> {
  if (!cached) cached = requestContext();
  return cached;
}

/** Why {@link acquireGpu} returned `null` ("" after a success). */
export function gpuUnavailableReason(): string {
  return reason;
}

/** Destroys the cached device (if any); the next {@link acquireGpu} starts afresh. */
export async function releaseGpu(): Promise<void> {
  const c = cached;
  cached = null;
  cachedContext = null;
  reason = "released";
  const ctx = c ? await c : null;
  ctx?.device.destroy();
}

/** Creates a buffer, optionally filled with `data` (its byte length is rounded up to 4). */
export function createBuffer(
  device: GPUDevice,
  size: number,
  usage: GPUBufferUsageFlags,
  label: string,
  data?: ArrayBufferView,
): GPUBuffer {
  const bytes = Math.max(16, Math.ceil(size / 4) * 4);
  const buf = device.createBuffer({
    label,
    size: bytes,
    usage,
    mappedAtCreation: data !== undefined,
  });
  if (data) {
    new Uint8Array(buf.getMappedRange()).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    buf.unmap();
  }
  return buf;
}

/** Workgroup counts for `groups` workgroups: 2-D when more than 65535 are needed. */
export function dispatchSize(groups: number): [number, number] {
  const max = 65535;
  if (groups <= max) return [Math.max(1, groups), 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** One binding of {@link runKernelOnce}, in binding order. */
export type KernelBinding =
  | { kind: "uniform"; data: ArrayBufferView | ArrayBuffer }
  | { kind: "input"; data: ArrayBufferView }
  | { kind: "output"; bytes: number; init?: ArrayBufferView };

/**
 * Runs kernel `name` once on fresh buffers (bindings 0..n-1 of group 0 in the order given) with
 * `groups` workgroups, and returns the contents of the `output` bindings, in order. Test and
 * diagnostics helper: it allocates and makes one round trip per call.
 */
export async function runKernelOnce(
  ctx: GpuContext,
  name: ShaderName,
  bindings: KernelBinding[],
  groups: number,
): Promise<ArrayBuffer[]> {
  const d = ctx.device;
  const made: GPUBuffer[] = [];
  const outs: { buf: GPUBuffer; bytes: number; rb: GPUBuffer }[] = [];
  const entries: GPUBindGroupEntry[] = [];
  d.pushErrorScope("validation");
  bindings.forEach((b, i) => {
    let buf: GPUBuffer;
    if (b.kind === "uniform") {
      const view = b.data instanceof ArrayBuffer ? new Uint8Array(b.data) : b.data;
      buf = createBuffer(d, view.byteLength, GPUBufferUsage.UNIFORM, `${name}#${i}`, view);
    } else if (b.kind === "input") {
      buf = createBuffer(d, b.data.byteLength, GPUBufferUsage.STORAGE, `${name}#${i}`, b.data);
    } else {
      buf = createBuffer(
        d,
        b.bytes,
        GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
        `${name}#${i}`,
        b.init,
      );
      const rb = createBuffer(
        d,
        b.bytes,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        `${name}#${i}-read`,
      );
      made.push(rb);
      outs.push({ buf, bytes: Math.ceil(b.bytes / 4) * 4, rb });
    }
    made.push(buf);
    entries.push({ binding: i, resource: { buffer: buf } });
  });
  const pipe = ctx.pipeline(name);
  const bind = d.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bind);
  const [gx, gy] = dispatchSize(groups);
  pass.dispatchWorkgroups(gx, gy);
  pass.end();
  for (const o of outs) enc.copyBufferToBuffer(o.buf, 0, o.rb, 0, o.bytes);
  d.queue.submit([enc.finish()]);
  const err = await d.popErrorScope();
  if (err) {
    for (const b of made) b.destroy();
    throw new Error(`WebGPU kernel ${name}: ${err.message}`);
  }
  const results: ArrayBuffer[] = [];
  for (const o of outs) {
    await o.rb.mapAsync(GPUMapMode.READ);
    results.push(o.rb.getMappedRange().slice(0));
    o.rb.unmap();
  }
  for (const b of made) b.destroy();
  return results;
}
