"""CTC lengths kept as floats: relative lengths (SpeechBrain's wav_lens, fractions of the padded length)
and counts that are floats only by dtype. The fix must give integer counts that CTCLoss accepts."""

SPEECH = '''
    import torch, torch.nn.functional as F
    T, N, C = 50, 4, 20
    log_probs = torch.randn(T, N, C).log_softmax(2).requires_grad_()
    targets = torch.randint(1, C, (N, 10))
'''


def test_relative_lengths_for_both_arguments_scaled_by_the_padded_sizes(ipython):
    run = ipython.run(SPEECH + '''
    wav_lens = torch.tensor([1.0, 0.9, 0.8, 0.7])      # relative lengths, as the recipe stores them
    target_lens = torch.tensor([1.0, 0.8, 0.6, 0.5])
    loss = F.ctc_loss(log_probs, targets, wav_lens, target_lens)
    ''')
    assert not run.success and "input_lengths must be integral" in run.out
    assert "NLH355" in run.out and "relative lengths" in run.out
    fix = ("loss = F.ctc_loss(log_probs, targets, (wav_lens * log_probs.size(0)).round().long(), "
           "(target_lens * targets.size(1)).round().long())")
    assert fix in " ".join(run.out.split())
    assert ".ceil().long()" not in run.out

    # the suggested line runs and gives the lengths the fractions stand for
    after = ipython.run(fix + "\nprint(loss.item() > 0, (wav_lens * log_probs.size(0)).round().long().tolist())")
    assert after.success and "True [50, 45, 40, 35]" in after.out


def test_relative_target_lengths_only(ipython):
    run = ipython.run(SPEECH + '''
    input_lengths = torch.full((N,), T)
    target_lens = torch.tensor([1.0, 0.8, 0.6, 0.5])
    loss = F.ctc_loss(log_probs, targets, input_lengths, target_lens)
    ''')
    assert not run.success and "target_lengths must be integral" in run.out
    assert "NLH355" in run.out
    assert ("loss = F.ctc_loss(log_probs, targets, input_lengths, (target_lens * targets.size(1)).round().long())"
            in " ".join(run.out.split()))


def test_relative_lengths_with_module_and_expression_arguments(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        ctc = nn.CTCLoss(blank=0)
        out = torch.randn(4, 60, 30)                      # (N, T, C) from a batch-first model
        batch = {"tokens": torch.randint(1, 30, (4, 12)), "wav_lens": torch.tensor([0.75, 1.0, 0.5, 0.9])}
        tok_lens = torch.tensor([0.5, 1.0, 0.25, 0.75])
        loss = ctc(out.transpose(0, 1).log_softmax(-1), batch["tokens"], batch["wav_lens"], tok_lens)
    ''')
    assert not run.success and "NLH355" in run.out
    flat = " ".join(run.out.split())
    # no plain name for log_probs: its T (60) is written as a number, never recomputed
    assert "(batch[\"wav_lens\"] * 60).round().long()" in flat
    assert "(tok_lens * batch[\"tokens\"].size(1)).round().long()" in flat


def test_float_counts_get_long_for_both_arguments(ipython):
    run = ipython.run(SPEECH + '''
    input_lengths = torch.ones(N) * T
    target_lengths = torch.full((N,), 10.0)
    loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths)
    ''')
    assert not run.success and "NLH355" in run.out
    assert ("loss = F.ctc_loss(log_probs, targets, input_lengths.long(), target_lengths.long())"
            in " ".join(run.out.split()))
    assert "relative" not in run.out


def test_float_lengths_with_fractions_above_one_get_no_guessed_rounding(ipython):
    run = ipython.run(SPEECH + '''
    frames = torch.tensor([100.0, 95.0, 81.0, 77.0])
    input_lengths = frames / 2                         # 50.0, 47.5, 40.5, 38.5
    loss = F.ctc_loss(log_probs, targets, input_lengths, torch.full((N,), 10))
    ''')
    assert not run.success and "NLH355" in run.out
    assert "round them the way the model computes its output length" in " ".join(run.out.split())
    assert ".ceil().long()" not in run.out and "relative" not in run.out
    assert "fix" not in run.out.split("NLH355", 1)[1]


def test_integer_lengths_are_fine(ipython):
    run = ipython.run(SPEECH + '''
    wav_lens = torch.tensor([1.0, 0.9, 0.8, 0.7])
    target_lens = torch.tensor([1.0, 0.8, 0.6, 0.5])
    input_lengths = (wav_lens * log_probs.size(0)).round().long()
    target_lengths = (target_lens * targets.size(1)).round().long()
    loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths)
    loss.backward()
    print("ok", input_lengths.tolist(), target_lengths.tolist())
    ''')
    assert run.success and "ok [50, 45, 40, 35] [10, 8, 6, 5]" in run.out
    assert "nllhint" not in run.out
