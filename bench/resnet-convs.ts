// The distinct convolutions of ResNet-18 (torchvision's BasicBlock layout) for a given stem and input size.

export interface ConvLayer {
  name: string;
  H: number; W: number; C: number; Cout: number; k: number; stride: number; pad: number;
}

export function resnet18Convs(stem: 'cifar' | 'imagenet', size: number): ConvLayer[] {
  const layers: ConvLayer[] = [];
  let s = size;
  if (stem === 'imagenet') {
    layers.push({ name: 'conv1 7x7/2', H: s, W: s, C: 3, Cout: 64, k: 7, stride: 2, pad: 3 });
    s = Math.floor((s + 6 - 7) / 2) + 1;
    s = Math.floor((s + 2 - 3) / 2) + 1; // max-pool 3x3/2
  } else {
    layers.push({ name: 'conv1 3x3', H: s, W: s, C: 3, Cout: 64, k: 3, stride: 1, pad: 1 });
  }
  let c = 64;
  for (const [stage, width] of [[1, 64], [2, 128], [3, 256], [4, 512]]) {
    const stride = stage === 1 ? 1 : 2;
    const out = Math.floor((s + 2 - 3) / stride) + 1;
    if (stride === 2) {
      layers.push({ name: `layer${stage}.0.conv1 3x3/2`, H: s, W: s, C: c, Cout: width, k: 3, stride: 2, pad: 1 });
      layers.push({ name: `layer${stage}.0.downsample 1x1/2`, H: s, W: s, C: c, Cout: width, k: 1, stride: 2, pad: 0 });
    }
    // The stride-1 3x3 width->width conv (every other conv of the stage has this shape).
    layers.push({ name: `layer${stage}.x 3x3`, H: out, W: out, C: width, Cout: width, k: 3, stride: 1, pad: 1 });
    s = out;
    c = width;
  }
  return layers;
}
