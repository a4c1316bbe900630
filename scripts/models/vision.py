#!/usr/bin/env python3
"""Vision models exported by torch.onnx.export as users export them (seeded random init, eval
mode, BatchNormalization with seeded running statistics), each with onnxruntime's outputs on 100
seeded inputs (reference.json) and its first input (input.json). Runs in
scripts/models/transformers.sh's environment (.venv-torch):

    .venv-torch/bin/python scripts/models/vision.py            the small instances, into
                                                                testdata/models/ (committed)
    .venv-torch/bin/python scripts/models/vision.py --full DIR [--only NAME..]
                         full size, 224x224, into DIR/NAME: resnet18 (11.7M parameters),
                         densenet121 (8.0M), vgg19 (143.7M; 575 MB): torchvision's layers

    resnet18_small  torchvision's ResNet-18 architecture (BasicBlock x [2, 2, 2, 2], 7x7 stem,
                    max pool, strided 1x1 downsampling shortcuts, global average pool, fc) at
                    width 8 (torchvision: 64) on a 1x3x32x32 image, 10 classes
    unet_small      a U-Net (width 4): two encoder levels (3x3 Conv, BatchNorm, ReLU twice, MaxPool), a
                    bottleneck, a decoder with a ConvTranspose (stride 2) at one level and a
                    bilinear Upsample at the other, skip Concats, a 1x1 Conv head: 1x3x16x16
                    -> 1x2x16x16 logits
"""

import argparse
import io
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(REPO, "testdata", "models")


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18's layers, with the base width as a parameter."""

    def __init__(self, width=64, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], width
        for i, cout in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    """torchvision.models.densenet._DenseLayer (bottleneck 1x1 then 3x3, growth `growth`)."""

    def __init__(self, cin, growth, bn_size=4):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * growth), nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers, cin, growth):
        super().__init__()
        self.layers = nn.ModuleList([DenseLayer(cin + i * growth, growth) for i in range(layers)])

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet121(nn.Module):
    """torchvision.models.densenet121's layers: blocks of 6, 12, 24, 16 layers, growth 32."""

    def __init__(self, classes=1000, growth=32, init=64):
        super().__init__()
        feats = [nn.Conv2d(3, init, 7, 2, 3, bias=False), nn.BatchNorm2d(init),
                 nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        c = init
        for i, n in enumerate([6, 12, 24, 16]):
            feats.append(DenseBlock(n, c, growth))
            c += n * growth
            if i != 3:
                feats += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
                          nn.AvgPool2d(2, 2)]
                c //= 2
        feats += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class VGG19(nn.Module):
    """torchvision.models.vgg19's layers (configuration E, no BatchNorm)."""

    def __init__(self, classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                  512, 512, 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, w=8, classes=2):
        super().__init__()
        self.enc1, self.enc2 = double_conv(3, w), double_conv(w, 2 * w)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = double_conv(4 * w, 2 * w)
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec1 = double_conv(3 * w, w)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


def trained_like(model, seed):
    """Seeded BatchNorm running statistics and affine parameters, as a trained net has (the
    defaults, mean 0 and variance 1, would make every BatchNorm an identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))


def build(name, make, shape, out, seed, samples=100, decimals=3):
    torch.manual_seed(seed)  # before the layers' own initialisation: the same weights every run
    model = make()
    trained_like(model, seed)
    model.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(*shape),), buf, input_names=["image"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "network.onnx"), "wb") as f:
        f.write(proto.SerializeToString())
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    # few decimals: reference.json stays small, and both runtimes see the same values
    xs = [np.round(rng.normal(0, 1, size=shape), decimals).astype(np.float32)
          for _ in range(samples)]
    outs = [[float(f"{v:.6g}") for v in sess.run(None, {"image": x})[0].reshape(-1)] for x in xs]
    rows = [[round(float(v), decimals) for v in x.reshape(-1)] for x in xs]
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputs": rows, "outputs": [outs]}, f, separators=(",", ":"))
    with open(os.path.join(out, "input.json"), "w") as f:
        json.dump({"input_data": [rows[0]]}, f)
    params = sum(p.numel() for p in model.parameters())
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"{name} -> {out}: {len(proto.graph.node)} nodes {ops}, {params} parameters")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR",
                    help="build the full-size models into DIR/<name> (ResNet-18, DenseNet-121, VGG-19)")
    ap.add_argument("--only", nargs="*", help="with --full: only these (resnet18 densenet121 vgg19)")
    a = ap.parse_args()
    if a.full:
        full = {"resnet18": lambda: ResNet18(64, 1000), "densenet121": DenseNet121, "vgg19": VGG19}
        for name, make in full.items():
            if not a.only or name in a.only:
                build(name, make, (1, 3, 224, 224), os.path.join(a.full, name), 20261207, samples=4)
        return
    build("resnet18_small", lambda: ResNet18(8, 10), (1, 3, 32, 32), os.path.join(MODELS, "resnet18_small"),
          20261207, decimals=2)
    build("unet_small", lambda: UNet(4, 2), (1, 3, 16, 16), os.path.join(MODELS, "unet_small"), 20261208)


if __name__ == "__main__":
    main()
