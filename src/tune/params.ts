/** Trainable parameters: values, gradient buffer, and whether weight decay applies. */

/** One trainable tensor. */
export interface Param {
  name: string;
  shape: number[];
  data: Float32Array;
  grad: Float32Array;
  /** Weight decay applies (weights yes; biases, batch-norm scales and shifts no). */
  decay: boolean;
}

/** A parameter with zero gradient. */
export function makeParam(name: string, shape: number[], data: Float32Array, decay: boolean): Param {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`parameter ${name}: ${data.length} values for shape [${shape}]`);
  return { name, shape, data, grad: new Float32Array(size), decay };
}

/** Total number of scalar values in a parameter list. */
export function countParams(params: Param[]): number {
  return params.reduce((a, p) => a + p.data.length, 0);
}
