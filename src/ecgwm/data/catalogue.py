"""The synthetic cohort's diagnosis catalogue: real ICD-10-CM codes, their course and ECG effect.

Codes are listed from most to least common; the cohort turns the rank into a long-tailed
prevalence. `factors` load on three latent patient risks (cardiometabolic, renal, pulmonary),
which is what makes comorbidities correlate. `effect` changes the record's ECG parameters
(see `ecg.py`); effects of co-occurring codes add up (numbers), multiply (`volt`, `t_amp`,
`p_amp`, `hrv`, `noise`) or override (rhythm and conduction flags). Many codes have no ECG
signature at all, as in hospital data.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Code:
    code: str  # dot-less ICD-10-CM
    chronic: bool  # chronic: persists from onset; acute: episodic, visit by visit
    factors: tuple[float, float, float]  # loadings on (cardiometabolic, renal, pulmonary) risk
    effect: dict[str, Any]


CM, RN, PU, NO = (0.8, 0, 0), (0, 0.8, 0), (0, 0, 0.8), (0, 0, 0)
CR = (0.6, 0.6, 0)


def _c(code: str, chronic: bool, factors=NO, **effect: Any) -> Code:
    return Code(code, chronic, tuple(float(f) for f in factors), effect)


CATALOGUE: list[Code] = [
    _c("I10", True, CM, volt=1.1),
    _c("E785", True, CM),
    _c("I2510", True, CM, tinv=("lateral", 0.3)),
    _c("Z87891", True, PU),
    _c("E119", True, CM, hr=4),
    _c("K219", True),
    _c("I4891", True, CM, rhythm="af"),
    _c("N179", False, RN, t_amp=1.3),
    _c("Z7901", True),
    _c("D649", False, RN, hr=10),
    _c("I509", True, CM, hr=8, volt=0.85, qrs=8),
    _c("N183", True, RN, t_amp=1.15),
    _c("F329", True),
    _c("E039", True, hr=-10, volt=0.85),
    _c("J449", True, PU, axis=25, p_amp=1.4, volt=0.8, hr=6),
    _c("F419", True, hr=6),
    _c("Z794", True, CM),
    _c("E872", False, RN, hr=8),
    _c("E871", False, RN),
    _c("G4733", True, PU),
    _c("J189", False, PU, hr=15),
    _c("I129", True, CR, volt=1.2),
    _c("E876", False, RN, t_amp=0.5, qtc=45),
    _c("R0789", False),
    _c("Z951", True, CM, tinv=("lateral", 0.2), qrs=5),
    _c("I252", True, CM, q="patient"),
    _c("E1122", True, CR),
    _c("M109", True, RN),
    _c("Z7902", True, CM),
    _c("I480", False, CM, rhythm="af"),
    _c("E875", False, RN, t_amp=2.2, t_peak=True, qrs=10),
    _c("N390", False),
    _c("I214", False, CM, st=("lateral", -0.12), tinv=("lateral", 0.8)),
    _c("R0602", False, PU, hr=8),
    _c("A419", False, hr=25),
    _c("I110", True, CM, volt=1.6, tinv=("lateral", 0.4)),
    _c("E669", True, CM, volt=0.85, axis=-10),
    _c("K5900", False),
    _c("G8929", True),
    _c("I4820", True, CM, rhythm="af"),
    _c("R55", False, hr=-5),
    _c("Z955", True, CM),
    _c("I340", True, p_dur=18, p_amp=1.2),
    _c("I350", True, CM, volt=1.4),
    _c("Z950", True, paced=True),
    _c("I440", True, pr=90),
    _c("R001", False, hr=-25),
    _c("R000", False, hr=35),
    _c("I447", True, bbb="left"),
    _c("I4510", True, bbb="right"),
    _c("I959", False, hr=10),
    _c("E1165", False, CM),
    _c("I2699", False, PU, hr=25, axis=30, tinv=("anterior", 0.3)),
    _c("E860", False, hr=10),
    _c("J9601", False, PU, hr=20),
    _c("I209", False, CM, tinv=("lateral", 0.4)),
    _c("I210", False, CM, st=("anterior", 0.3)),
    _c("I211", False, CM, st=("inferior", 0.25)),
    _c("E1140", True, CM, hrv=0.4, hr=5),
    _c("I420", True, CM, qrs=25, volt=0.8, hr=8),
    _c("I421", True, volt=1.8, tinv=("lateral", 0.6)),
    _c("I471", False, hr=70),
    _c("I495", True, hr=-20, hrv=2.5),
    _c("I444", True, axis=-75),
    _c("I441", True, avb=2),
    _c("I442", False, avb=3),
    _c("E8342", False, RN, qtc=25),
    _c("E8351", False, RN, qtc=50),
    _c("E8352", False, qtc=-30),
    _c("E059", False, hr=25),
    _c("G20", True, noise=3.0),
    _c("F1020", True, hr=8, qtc=10),
    _c("I739", True, CM),
    _c("I639", False, CM, tinv=("anterior", 0.3), qtc=20),
    _c("Z8673", True, CM),
    _c("K7030", True, qtc=15),
    _c("J45909", True, PU, hr=4),
    _c("N189", True, RN, t_amp=1.1),
    _c("C349", True, PU, hr=6),
    _c("D696", False),
    _c("E1151", True, CM),
    _c("I38", False, hr=15),
    _c("I309", False, st=("diffuse", 0.12)),
    _c("I313", False, volt=0.6, hr=12),
    _c("R9431", False, tinv=("lateral", 0.3)),
    _c("I517", True, CM, volt=1.3),
    _c("I2720", True, PU, axis=35, p_amp=1.5),
    _c("Z79899", True),
    _c("E109", True),
    _c("M810", True),
    _c("K922", False, hr=15),
    _c("R509", False, hr=12),
    _c("R4182", False),
    _c("W19XXXA", False),
    _c("S72001A", False, hr=8),
    _c("Z66", True),
    _c("Z515", False, hr=10),
    _c("F0390", True),
    _c("N400", True),
    _c("E559", True),
    _c("B182", True),
    _c("I4892", False, CM, rhythm="af"),
    _c("I493", True, hrv=2.0),
    _c("I472", False, hr=40, qrs=40),
    _c("R079", False),
    _c("I2583", True, CM),
    _c("Z86718", True),
    _c("Z9981", True, PU, hr=8),
    _c("Q211", True, bbb="right"),
    _c("D62", False, hr=18),
    _c("E43", True, volt=0.8),
    _c("L03115", False),
    _c("I456", True, pr=-50, qrs=25),
    _c("R570", False, hr=30),
    _c("I249", False, CM, tinv=("anterior", 0.5)),
    _c("G40909", True),
    _c("J9811", False, PU),
    _c("K5790", True),
    _c("R112", False),
    _c("R531", False),
    _c("M1990", True),
    _c("J90", False, PU, volt=0.85),
    _c("K8020", True),
    _c("D509", True, hr=6),
    _c("R6520", False, hr=25),
    _c("J8410", True, PU, hr=6),
    _c("G629", True),
    _c("Z23", False),
]

# Links that make courses realistic: (if this code is present, then that code, probability,
# "next" = from the next visit on (a healed acute event), "now" = from this visit on).
LINKS: list[tuple[str, str, float, str]] = [
    ("I210", "I252", 0.8, "next"),
    ("I211", "I252", 0.8, "next"),
    ("I214", "I252", 0.4, "next"),
    ("I4891", "Z7901", 0.6, "now"),
    ("I4820", "Z7901", 0.7, "now"),
    ("I480", "Z7901", 0.4, "now"),
    ("E119", "Z794", 0.35, "now"),
    ("E1122", "N183", 0.5, "now"),
    ("I110", "I509", 0.7, "now"),
    ("I2510", "Z955", 0.3, "now"),
    ("N183", "E875", 0.15, "now"),
    ("I442", "Z950", 0.7, "next"),
    ("I639", "Z8673", 0.8, "next"),
]

# Territory unit vectors in dipole coordinates (x: patient's left, y: feet, z: anterior).
TERRITORIES = ("anterior", "inferior", "lateral")
