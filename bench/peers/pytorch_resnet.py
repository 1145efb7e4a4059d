"""ResNet-18 for the PyTorch peer (bench/peers/pytorch_peer.py): torchvision's resnet18 with the options of
src/nn/resnet.ts, written out so that any width multiplier works and python3-torchvision is not needed."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (conv-BN-ReLU, conv-BN, 1x1 conv + BN downsample, add, ReLU)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    """torchvision's resnet18 with src/nn/resnet.ts's options: a CIFAR stem (3x3 stride 1, no max-pool) and a
    width multiplier on 64-128-256-512. Built here rather than taken from torchvision so that any width works and
    python3-torchvision is not needed; same modules, names and initialisation."""

    def __init__(self, stem, width, classes, in_channels=3):
        super().__init__()
        base = max(1, round(64 * width))
        widths = [base, 2 * base, 4 * base, 8 * base]
        if stem == 'imagenet':
            self.conv1 = nn.Conv2d(in_channels, base, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(in_channels, base, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(base)
        blocks, channels = [], base
        for stage, w in enumerate(widths):
            for b in range(2):
                blocks.append(BasicBlock(channels, w, 2 if stage > 0 and b == 0 else 1))
                channels = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        h = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        h = self.blocks(h)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))
