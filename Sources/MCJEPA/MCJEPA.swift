import NN
import FlowIO
// MCJEPA: the model, its losses, trainer and weights.
