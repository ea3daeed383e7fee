def test_one_based_labels_hint_names_the_users_variables(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        outputs = torch.randn(8, 5, requires_grad=True)
        labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
        loss = criterion(outputs, labels)
    """)
    assert not run.success
    assert "IndexError: Target 5 is out of bounds." in run.out
    assert "NLH101" in run.out
    assert "loss = criterion(outputs, labels - 1)" in run.out
    print(run.out)
