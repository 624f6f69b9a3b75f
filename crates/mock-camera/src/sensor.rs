//! The sensor settings behind `/status` and `/control`, named as the firmware names them.

use serde::Serialize;

/// The sensor registers the CameraWebServer firmware reports in `/status`, in its order.
///
/// Only `framesize` and `quality` change the frames this emulator produces; the others are
/// stored and echoed, as a UI expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensorSettings {
    /// XCLK in MHz.
    pub xclk: i32,
    /// Pixel format; 4 = JPEG.
    pub pixformat: i32,
    /// `framesize_t` value; see [`FRAME_SIZES`](crate::FRAME_SIZES).
    pub framesize: i32,
    /// Firmware JPEG quality, 0..=63, lower is better.
    pub quality: i32,
    /// -2..=2.
    pub brightness: i32,
    /// -2..=2.
    pub contrast: i32,
    /// -2..=2.
    pub saturation: i32,
    /// -2..=2.
    pub sharpness: i32,
    /// Denoise level.
    pub denoise: i32,
    /// 0 = none, 1 = negative, 2 = grayscale, ...
    pub special_effect: i32,
    /// White balance mode.
    pub wb_mode: i32,
    /// Auto white balance on/off.
    pub awb: i32,
    /// AWB gain on/off.
    pub awb_gain: i32,
    /// Auto exposure on/off.
    pub aec: i32,
    /// AEC DSP on/off.
    pub aec2: i32,
    /// Auto exposure level, -2..=2.
    pub ae_level: i32,
    /// Manual exposure value.
    pub aec_value: i32,
    /// Auto gain on/off.
    pub agc: i32,
    /// Manual gain.
    pub agc_gain: i32,
    /// Gain ceiling.
    pub gainceiling: i32,
    /// Black pixel correction.
    pub bpc: i32,
    /// White pixel correction.
    pub wpc: i32,
    /// Raw gamma.
    pub raw_gma: i32,
    /// Lens correction.
    pub lenc: i32,
    /// Horizontal mirror.
    pub hmirror: i32,
    /// Vertical flip.
    pub vflip: i32,
    /// Downsize enable.
    pub dcw: i32,
    /// Colour bar test pattern.
    pub colorbar: i32,
    /// Flash LED intensity; -1 = no LED.
    pub led_intensity: i32,
}

impl SensorSettings {
    /// The settings of a freshly booted board at `framesize` and firmware `quality`.
    pub fn new(framesize: i32, quality: i32) -> SensorSettings {
        SensorSettings {
            xclk: 20,
            pixformat: 4,
            framesize,
            quality,
            brightness: 0,
            contrast: 0,
            saturation: 0,
            sharpness: 0,
            denoise: 0,
            special_effect: 0,
            wb_mode: 0,
            awb: 1,
            awb_gain: 1,
            aec: 1,
            aec2: 0,
            ae_level: 0,
            aec_value: 168,
            agc: 1,
            agc_gain: 0,
            gainceiling: 0,
            bpc: 0,
            wpc: 1,
            raw_gma: 1,
            lenc: 1,
            hmirror: 0,
            vflip: 0,
            dcw: 1,
            colorbar: 0,
            led_intensity: -1,
        }
    }

    /// The register named `var`, as `/control?var=` names it (`None` if unknown).
    pub fn field_mut(&mut self, var: &str) -> Option<&mut i32> {
        Some(match var {
            "xclk" => &mut self.xclk,
            "framesize" => &mut self.framesize,
            "quality" => &mut self.quality,
            "brightness" => &mut self.brightness,
            "contrast" => &mut self.contrast,
            "saturation" => &mut self.saturation,
            "sharpness" => &mut self.sharpness,
            "denoise" => &mut self.denoise,
            "special_effect" => &mut self.special_effect,
            "wb_mode" => &mut self.wb_mode,
            "awb" => &mut self.awb,
            "awb_gain" => &mut self.awb_gain,
            "aec" => &mut self.aec,
            "aec2" => &mut self.aec2,
            "ae_level" => &mut self.ae_level,
            "aec_value" => &mut self.aec_value,
            "agc" => &mut self.agc,
            "agc_gain" => &mut self.agc_gain,
            "gainceiling" => &mut self.gainceiling,
            "bpc" => &mut self.bpc,
            "wpc" => &mut self.wpc,
            "raw_gma" => &mut self.raw_gma,
            "lenc" => &mut self.lenc,
            "hmirror" => &mut self.hmirror,
            "vflip" => &mut self.vflip,
            "dcw" => &mut self.dcw,
            "colorbar" => &mut self.colorbar,
            "led_intensity" => &mut self.led_intensity,
            _ => return None,
        })
    }

    /// `/status`'s JSON body.
    pub fn to_json(&self) -> String {
        // Serializing a struct of integers cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_firmware_names_in_order() {
        let json = SensorSettings::new(8, 12).to_json();
        assert!(json.starts_with(r#"{"xclk":20,"pixformat":4,"framesize":8,"quality":12,"#));
        assert!(json.contains(r#""hmirror":0,"vflip":0"#));
    }

    #[test]
    fn field_mut_knows_control_names() {
        let mut s = SensorSettings::new(8, 12);
        *s.field_mut("vflip").unwrap() = 1;
        assert_eq!(s.vflip, 1);
        assert!(s.field_mut("nope").is_none());
    }
}
