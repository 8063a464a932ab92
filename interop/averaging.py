"""The element-wise mean of several checkpoints of one model.

Averaging the weights of fine-tuning trials (or of the last checkpoints
of one run) gives one model that often scores near the trials' ensemble
at the cost of one (UER-py's ``average_models.py`` does the same for
PyTorch). The checkpoints must hold the same tensors with the same
shapes.

Example:
  >>> mean_tensors([{"w": np.array([1.0, 2.0])}, {"w": np.array([3.0, 6.0])}],
  ...              ["a", "b"])
  {'w': array([2., 4.])}
"""

import numpy as np


def mean_tensors(tensor_dicts, names):
  """{name: the mean over ``tensor_dicts``} in float64, cast back to each
  tensor's own dtype; integer tensors must be equal everywhere.

  Args:
    tensor_dicts: several {official name: array}, one per checkpoint.
    names: how the user named each checkpoint, for messages.
  """
  first = tensor_dicts[0]
  for name, tensors in zip(names[1:], tensor_dicts[1:]):
    different = sorted(set(first) ^ set(tensors))
    if different:
      holder = names[0] if different[0] in first else name
      raise ValueError(
        f"{different[0]} is only in {holder} of {names[0]} and {name}: "
        f"average checkpoints of one model"
      )
    for key, value in first.items():
      if np.shape(tensors[key]) != np.shape(value):
        raise ValueError(
          f"{key} is {list(np.shape(value))} in {names[0]} but "
          f"{list(np.shape(tensors[key]))} in {name}: average checkpoints "
          f"of one shape"
        )
  averaged = {}
  for key in first:
    values = [np.asarray(t[key]) for t in tensor_dicts]
    if np.issubdtype(values[0].dtype, np.floating):
      mean = np.mean(np.stack([v.astype(np.float64) for v in values]), 0)
      averaged[key] = mean.astype(values[0].dtype)
    elif all(np.array_equal(v, values[0]) for v in values):
      averaged[key] = values[0]
    else:
      raise ValueError(f"{key} (integers) differs between the checkpoints")
  return averaged
