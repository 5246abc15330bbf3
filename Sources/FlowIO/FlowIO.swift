// FlowIO: flow fields, their file formats and pictures.
