"""F.one_hot raising: an ignore label (255) beside the classes, and labels that are not int64. The hint
names the user's tensor and rewrites their line; it never advises num_classes=256 for an ignore label."""


def test_ignore_label_255_is_masked_not_counted_as_a_class(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        n_classes = 2
        targets = torch.tensor([[0, 1, 255], [1, 0, 0]])   # 255 = ignore
        one_hot = F.one_hot(targets, num_classes=n_classes)
    """)
    assert "nllhint NLH107 [target-range]" in run.out, run.out
    hint = run.out[run.out.index("nllhint NLH107"):]
    assert "ignore label" in hint, run.out
    assert "valid = targets != 255" in hint, run.out
    assert ("one_hot = F.one_hot(targets.masked_fill(~valid, 0), num_classes=n_classes) * valid.unsqueeze(-1)"
            in hint), run.out
    assert "num_classes=256" not in hint.split("fix")[-1], run.out


def test_ignore_label_in_a_segmentation_mask_inside_a_loss_function(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        def dice_loss(logits, mask, eps=1e-6):
            probs = logits.softmax(1)
            onehot = F.one_hot(mask, probs.shape[1]).permute(0, 3, 1, 2).float()
            inter = (probs * onehot).sum((2, 3))
            return 1 - (2 * inter / (probs.sum((2, 3)) + onehot.sum((2, 3)) + eps)).mean()
        mask = torch.randint(0, 3, (2, 16, 16))
        mask[:, :, :2] = 255            # void border
        loss = dice_loss(torch.randn(2, 3, 16, 16), mask)
    """)
    hint = run.out[run.out.index("nllhint NLH107"):]
    assert "valid = mask != 255" in hint, run.out
    assert "F.one_hot(mask.masked_fill(~valid, 0), probs.shape[1])" in hint, run.out
    assert "num_classes=256" not in hint.split("fix")[-1], run.out


def test_labels_beyond_num_classes_without_an_ignore_label_still_raise_num_classes(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        labels = torch.tensor([0, 2, 5, 1])
        onehot = F.one_hot(labels, num_classes=3)
    """)
    assert "nllhint NLH107" in run.out and "num_classes=6" in run.out, run.out
    assert "ignore label" not in run.out, run.out


def test_float_label_map_is_cast_with_long(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        seg = (torch.rand(1, 8, 8) * 3).round()       # label map as float after interpolation
        seg_onehot = F.one_hot(seg, num_classes=4)
    """)
    assert "one_hot is only applicable to index tensor" in run.out, run.out  # torch's message, unchanged
    assert "nllhint NLH259 [target-dtype]" in run.out, run.out
    assert "seg_onehot = F.one_hot(seg.long(), num_classes=4)" in run.out, run.out
    assert "float32" in run.out, run.out


def test_float_labels_with_fractions_are_rounded_first(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        mask = torch.randint(0, 3, (1, 1, 4, 4)).float()
        small = F.interpolate(mask, size=(6, 6), mode='bilinear')[:, 0]
        y = F.one_hot(small, 3)
    """)
    assert "nllhint NLH259" in run.out, run.out
    assert "y = F.one_hot(small.round().long(), 3)" in run.out, run.out
    assert "mode='nearest'" in run.out, run.out


def test_int32_labels_from_numpy_style_cast(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        labels = torch.tensor([0, 2, 1], dtype=torch.int32)
        targets = F.one_hot(labels, num_classes=3).float()
    """)
    assert "nllhint NLH259" in run.out and "int32" in run.out, run.out
    assert "targets = F.one_hot(labels.long(), num_classes=3).float()" in run.out, run.out


def test_a_wrong_cast_in_the_call_is_replaced(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        tags = torch.tensor([0., 2., 1.])
        enc = F.one_hot(tags.to(torch.int32), 3)
    """)
    assert "nllhint NLH259" in run.out, run.out
    assert "enc = F.one_hot(tags.long(), 3)" in run.out, run.out
    assert "float32" not in run.out.split("nllhint NLH259")[-1], run.out  # the argument is int32, not tags


def test_device_move_is_kept(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        device = 'cpu'
        tags = torch.tensor([0., 2., 1.])
        enc = F.one_hot(tags.to(device), 3)
    """)
    assert "enc = F.one_hot(tags.to(device).long(), 3)" in run.out, run.out


def test_long_labels_in_range_raise_nothing(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        seg = (torch.rand(1, 8, 8) * 3).round()
        valid = torch.tensor([[0, 1, 255]]) != 255
        enc = F.one_hot(seg.long(), num_classes=4)
        enc2 = F.one_hot(torch.tensor([[0, 1, 255]]).masked_fill(~valid, 0), 2) * valid.unsqueeze(-1)
        print(enc.shape, enc2.sum().item())
    """)
    assert run.success, run.out
    assert "nllhint" not in run.out, run.out


def test_minus_100_token_labels_are_an_ignore_label(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        labels = torch.tensor([[3, 1, -100, -100], [0, 2, 2, -100]])   # padded token labels
        onehot = F.one_hot(labels, num_classes=4).float()
    """)
    hint = run.out[run.out.index("nllhint NLH108"):]
    assert "-100 as an ignore label" in hint and "ignore_index" in hint, run.out
    assert "valid = labels != -100" in hint, run.out
    assert "onehot = F.one_hot(labels.masked_fill(~valid, 0), num_classes=4).float()" in hint, run.out
    assert "* valid.unsqueeze(-1)" in hint, run.out


def test_minus_1_padding_gets_its_rows_zeroed(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        tags = torch.tensor([0, 2, -1, -1])
        enc = F.one_hot(tags, 3)
    """)
    assert "valid = tags != -1" in run.out, run.out
    assert "enc = F.one_hot(tags.masked_fill(~valid, 0), 3) * valid.unsqueeze(-1)" in run.out, run.out


def test_several_negative_values_mask_every_negative(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        y = torch.tensor([0, 1, -2, -1, 2])
        enc = F.one_hot(y, 3)
    """)
    assert "nllhint NLH108" in run.out and "valid = y >= 0" in run.out, run.out
    assert "ignore label" not in run.out, run.out
