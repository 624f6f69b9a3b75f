//! YOLO object detection on tract-onnx: YOLOv5/v7/v8/11 and YOLOX decoding, NMS and drawing.
