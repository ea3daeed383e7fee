"""ctc-format and empty-input hints, as a user meets them in a notebook."""

SPEECH = '''
    import torch, torch.nn as nn
    rnn, head = nn.GRU(13, 32, batch_first=True), nn.Linear(32, 20)
    feats = torch.randn(4, 50, 13)                    # (N, T, features)
    out, _ = rnn(feats)
    log_probs = head(out).log_softmax(2)              # (N, T, C)
    targets = torch.randint(1, 20, (4, 10))
    input_lengths = torch.full((4,), 50, dtype=torch.long)
    target_lengths = torch.randint(5, 11, (4,))
    ctc = nn.CTCLoss()
'''


def test_batch_first_log_probs(ipython):
    run = ipython.run(SPEECH + '''
    loss = ctc(log_probs, targets, input_lengths, target_lengths)
    ''')
    assert not run.success and "input_lengths must be of size batch_size" in run.out
    assert "NLH350" in run.out and "(N, T, C)" in run.out
    assert "loss = ctc(log_probs.transpose(0, 1), targets, input_lengths, target_lengths)" in run.out


def test_channels_first_conv_output(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        conv = nn.Conv1d(13, 20, kernel_size=3, padding=1)
        log_probs = conv(torch.randn(4, 13, 60)).log_softmax(1)   # (N, C, T)
        targets = torch.randint(1, 20, (4, 8))
        loss = F.ctc_loss(log_probs, targets, [60, 60, 55, 40], [8, 8, 6, 5])
    ''')
    assert not run.success
    assert "NLH350" in run.out and "log_probs.permute(2, 0, 1)" in run.out


def test_correct_ctc_then_an_unrelated_error_shows_no_hint(ipython):
    run = ipython.run(SPEECH + '''
    loss = ctc(log_probs.transpose(0, 1), targets, input_lengths, target_lengths)
    loss.backward()
    history = []
    print(history[0])
    ''')
    assert not run.success and "IndexError" in run.out
    assert "nllhint" not in run.out


def test_one_length_for_the_whole_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(50, 4, 20).log_softmax(2)
        targets = torch.randint(1, 20, (4, 10))
        loss = F.ctc_loss(log_probs, targets, torch.tensor([50]), torch.full((4,), 10))
    ''')
    assert not run.success
    assert "NLH351" in run.out
    assert "torch.full((log_probs.size(1),), 50, dtype=torch.long)" in run.out


def test_input_lengths_before_downsampling(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        conv = nn.Conv1d(13, 20, kernel_size=3, stride=2, padding=1)
        feats = torch.randn(4, 13, 100)
        log_probs = conv(feats).permute(2, 0, 1).log_softmax(2)
        targets = torch.randint(1, 20, (4, 12))
        frame_lengths = torch.tensor([100, 96, 90, 80])
        loss = nn.CTCLoss()(log_probs, targets, frame_lengths, torch.full((4,), 12))
    ''')
    assert not run.success
    assert "Expected input_lengths to have value at most 50, but got value 100" in run.out
    assert "NLH352" in run.out and "2x" in run.out
    assert "torch.div(frame_lengths, 2, rounding_mode='ceil')" in run.out


def test_targets_time_first(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(60, 4, 20).log_softmax(2)
        labels = torch.randint(1, 20, (12, 4))      # (S, N)
        loss = F.ctc_loss(log_probs, labels, torch.full((4,), 60), torch.full((4,), 12))
    ''')
    assert not run.success
    assert "NLH353" in run.out and "labels.t()" in run.out


def test_padded_targets_flattened(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(60, 3, 20).log_softmax(2)
        padded = torch.randint(1, 20, (3, 12))
        target_lengths = torch.tensor([12, 9, 7])
        loss = F.ctc_loss(log_probs, padded.view(-1), torch.full((3,), 60), target_lengths)
    ''')
    assert not run.success
    assert "NLH354" in run.out and "36 = 3 x 12" in run.out
    assert "loss = F.ctc_loss(log_probs, padded, torch.full((3,), 60), target_lengths)" in run.out


def test_target_lengths_longer_than_the_padded_rows(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(60, 3, 20).log_softmax(2)
        padded = torch.randint(1, 20, (3, 12))
        lengths = torch.tensor([13, 9, 7])     # counted with an end token
        loss = F.ctc_loss(log_probs, padded, torch.full((3,), 60), lengths)
    ''')
    assert not run.success
    assert "NLH354" in run.out and "`lengths` goes up to 13" in run.out


def test_float_lengths(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        log_probs = torch.randn(50, 2, 20).log_softmax(2)
        targets = torch.randint(1, 20, (2, 10))
        input_lengths = torch.ones(2) * 50
        loss = nn.CTCLoss()(log_probs, targets, input_lengths, torch.tensor([10, 8]))
    ''')
    assert not run.success
    assert "NLH355" in run.out
    assert "loss = nn.CTCLoss()(log_probs, targets, input_lengths.long(), torch.tensor([10, 8]))" in run.out


def test_crnn_output_with_height_one(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        cnn = nn.Conv2d(1, 20, kernel_size=(32, 3), padding=(0, 1))
        images = torch.randn(4, 1, 32, 100)
        log_probs = cnn(images).log_softmax(1)     # (N, C, 1, W)
        targets = torch.randint(1, 20, (4, 8))
        loss = nn.CTCLoss()(log_probs, targets, torch.full((4,), 100), torch.full((4,), 8))
    ''')
    assert not run.success
    assert "NLH356" in run.out and "log_probs.squeeze(2).permute(2, 0, 1)" in run.out


def test_negative_length(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(30, 3, 10).log_softmax(2)
        targets = torch.randint(1, 10, (3, 5))
        lengths = [30, 28, -1]
        loss = F.ctc_loss(log_probs, targets, lengths, [5, 5, 5])
    ''')
    assert not run.success
    assert "NLH357" in run.out and "`lengths` contains -1" in run.out


def test_zero_time_steps(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        frames = torch.randn(0, 2, 12).log_softmax(2)
        loss = nn.CTCLoss()(frames, torch.randint(1, 12, (2, 3)), torch.tensor([0, 0]), torch.tensor([3, 3]))
    ''')
    assert not run.success and "log_probs tensor must not be empty" in run.out
    assert "NLH370" in run.out and "0 time steps" in run.out


def test_filter_that_kept_nothing(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(6, 4)
        labels = torch.tensor([0, 1, 3, 2, 1, 0])
        confident = logits.max(dim=1).values > 5
        loss = F.cross_entropy(logits, labels[confident])
    ''')
    assert not run.success and "target batch_size (0)" in run.out
    assert "NLH370" in run.out and "`labels[confident]` has 0 samples while `logits` has 6" in run.out
    assert "NLH303" not in run.out


def test_empty_multilabel_margin_input(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(5, 4)
        rows = scores[:, 0] > 10
        loss = nn.MultiLabelMarginLoss()(scores[rows].flatten(), torch.zeros(0, dtype=torch.long))
    ''')
    assert not run.success and "Expected non-empty vector or matrix" in run.out
    assert "NLH370" in run.out and "scores[rows].flatten()" in run.out
