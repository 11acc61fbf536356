"""The synthetic cohort's diseases: course, coding, risk factors and ECG effect, with real ICD-10-CM codes.

A *disease* is a hidden state of a patient; a *code* is what a coder writes at a stay. Each
entry below is one disease with the codes a coder may use for it (a patient keeps one), listed
so that the three-character categories appear from most to least commonly coded: the cohort
gives the category at rank r a coded share of stays proportional to r^-prevalence_decay (a
Zipf-like long tail), split between the diseases of the category by `share`.

course
    chronic    present from onset (driven by age, risk factors and other diseases) onward
    acute      an episode that starts at an ECG occasion and resolves after `days` on average
    complaint  a presenting symptom (chest pain, syncope): a one-day episode, coded mostly in the ED
sens       chance that a stay's admission diagnoses carry the code when the disease is present
           (ED coding of chronic comorbidities is sparser, see cohort.py)
risk       log-odds loadings on the patient's risk factors (FACTORS), per decade of age from 65
           (`age`) and for men (`male`)
effect     how the disease changes the ECG parameters (ecg.EcgParams):
           additive   hr, pr, p_dur, qrs, axis, qtc, u_amp, delta, pvc_rate, pac_rate, tremor_mv
           factor     p_amp, qrs_amp, t_amp, t_width, rr_var
           territory  st, tinv, q: (territory | "diffuse" | "patient", amount)
           set        rhythm, bbb, avb, paced; `rate` sets the ventricular rate (bpm) of a tachycardia
penetrance share of patients in whom the effect shows at all (LVH by voltage: a minority)
visible    share of ECGs on which it shows (paroxysmal AF, intermittent block)
size_sd    per-patient spread of the effect size (log scale)
fade_days  acute effects wane with this time constant (Q waves and T inversion outlast it)

Effects are grounded in cardiology (AHA/ACCF/HRS 2009 recommendations for the standardisation
and interpretation of the ECG, parts III-V; Surawicz & Knilans, Chou's Electrocardiography);
sizes are typical, not diagnostic thresholds, and most coded patients are not textbook cases.
"""

from __future__ import annotations

import dataclasses
from typing import Any

FACTORS = ("cm", "rn", "pu", "fr", "bh")  # cardiometabolic, renal, pulmonary/smoking, frailty, behavioural
# Correlation between the patient's risk factors (a multivariate normal): cardiometabolic and
# renal disease go together, smoking links pulmonary and behavioural risk, frailty touches all.
FACTOR_CORR = (
    (1.00, 0.45, 0.20, 0.30, 0.10),
    (0.45, 1.00, 0.10, 0.35, 0.05),
    (0.20, 0.10, 1.00, 0.30, 0.35),
    (0.30, 0.35, 0.30, 1.00, 0.15),
    (0.10, 0.05, 0.35, 0.15, 1.00),
)
COURSES = ("chronic", "acute", "complaint")


@dataclasses.dataclass(frozen=True)
class Disease:
    key: str
    codes: tuple[str, ...]  # dot-less ICD-10-CM codes a coder may use
    course: str
    sens: float
    risk: dict[str, float]
    effect: dict[str, Any]
    penetrance: float = 1.0
    visible: float = 1.0
    size_sd: float = 0.3
    days: float = 1.0  # acute / complaint: mean episode length
    fade_days: float | None = None
    share: float = 1.0  # share of its category's coded prevalence
    sex: str | None = None  # "M" or "F": a disease of one sex only

    @property
    def category(self) -> str:
        return self.codes[0][:3]


def R(**kw: float) -> dict[str, float]:
    return kw


def chronic(key: str, codes: str, sens: float, risk: dict, effect: dict | None = None, **kw: Any) -> Disease:
    return Disease(key, tuple(codes.split()), "chronic", sens, risk, effect or {}, **kw)


def acute(key: str, codes: str, sens: float, days: float, risk: dict, effect: dict | None = None,
          **kw: Any) -> Disease:
    return Disease(key, tuple(codes.split()), "acute", sens, risk, effect or {}, days=days, **kw)


def complaint(key: str, codes: str, risk: dict, effect: dict | None = None, **kw: Any) -> Disease:
    return Disease(key, tuple(codes.split()), "complaint", 0.9, risk, effect or {}, days=0.5, **kw)


LAT, ANT, INF = "lateral", "anterior", "inferior"

CATALOGUE: list[Disease] = [
    # --- the common categories -------------------------------------------------------------
    chronic("htn", "I10", 0.8, R(cm=1, rn=0.2, age=0.5), dict(qrs_amp=1.25, p_dur=10, tinv=(LAT, 0.15)),
            penetrance=0.4),
    chronic("hyperlipidaemia", "E785 E7800 E782", 0.65, R(cm=0.9, age=0.3)),
    chronic("cad", "I2510", 0.8, R(cm=1, age=0.6, male=0.7), dict(tinv=(LAT, 0.35), st=(LAT, -0.04)),
            penetrance=0.6, share=0.75),
    chronic("old_mi", "I252", 0.7, R(cm=1, age=0.5, male=0.7), dict(q=("patient", 0.3)), penetrance=0.6,
            share=0.25),
    chronic("ex_smoker", "Z87891", 0.5, R(pu=1, bh=0.4, age=0.2)),
    chronic("af_paroxysmal", "I480", 0.85, R(cm=0.6, age=0.8, male=0.3), dict(rhythm="af"), visible=0.3,
            share=0.35),
    chronic("af_persistent", "I4891 I4819 I4820 I4821", 0.9, R(cm=0.6, age=0.8, male=0.3), dict(rhythm="af"),
            visible=0.95, share=0.55),
    chronic("flutter", "I4892 I484", 0.85, R(cm=0.6, age=0.7, male=0.6), dict(rhythm="flutter"), visible=0.5,
            share=0.1),
    chronic("diabetes", "E119 E1165 E1122", 0.9, R(cm=1.1, age=0.3), dict(hr=6, rr_var=0.6, qtc=8), penetrance=0.5),
    chronic("gerd", "K219", 0.45, R(cm=0.2, fr=0.2, age=0.2)),
    chronic("heart_failure", "I5032 I5022 I509 I5042", 0.9, R(cm=1, rn=0.4, age=0.7),
            dict(qrs_amp=0.8, qrs=14, hr=8, tinv=(LAT, 0.2)), penetrance=0.85),
    chronic("anticoagulant", "Z7901", 0.55, R(cm=0.4, age=0.5), share=0.3),
    chronic("insulin", "Z794", 0.55, R(cm=0.8), share=0.2),
    chronic("antiplatelet", "Z7902", 0.5, R(cm=0.8, age=0.3), share=0.3),
    chronic("other_drugs", "Z79899", 0.45, R(fr=0.4), share=0.2),
    chronic("ckd", "N1830 N184 N186", 0.85, R(rn=1.4, cm=0.4, age=0.5), dict(t_amp=1.2, qtc=10, qrs_amp=1.1),
            penetrance=0.5),
    chronic("depression", "F329 F32A", 0.55, R(bh=1, fr=0.2, male=-0.5), dict(qtc=8), penetrance=0.4),  # SSRI, TCA
    chronic("av_block_1", "I440", 0.6, R(age=0.8, cm=0.2), dict(pr=75), penetrance=0.9, share=0.35),
    chronic("lbbb", "I447", 0.8, R(cm=0.6, age=0.8), dict(bbb="left"), penetrance=0.95, share=0.3),
    chronic("lafb", "I444", 0.5, R(age=0.7, cm=0.4), dict(axis=-70), penetrance=0.9, share=0.15),
    chronic("av_block_2", "I441", 0.85, R(age=1), dict(avb=2), visible=0.5, share=0.08),
    acute("av_block_3", "I442", 0.95, 5, R(age=1, cm=0.3), dict(avb=3), visible=0.85, share=0.12),
    acute("aki", "N179", 0.85, 7, R(rn=1.1, fr=0.5, age=0.3), dict(t_amp=1.2), penetrance=0.3, fade_days=3),
    acute("hyponatraemia", "E871", 0.8, 5, R(fr=0.7, rn=0.4, bh=0.3), share=0.35),
    acute("hypokalaemia", "E876", 0.8, 3, R(rn=0.3, fr=0.4), dict(t_amp=0.6, u_amp=0.1, qtc=25),
          penetrance=0.6, fade_days=2, share=0.25),
    acute("hyperkalaemia", "E875", 0.85, 2, R(rn=1.3, cm=0.3), dict(t_amp=1.8, t_width=0.6, qrs=8, p_amp=0.6),
          penetrance=0.55, fade_days=0.5, share=0.2),
    acute("fluid_overload", "E8770", 0.7, 5, R(rn=0.6, cm=0.5), share=0.1),
    acute("acidosis", "E8720", 0.7, 3, R(rn=0.8, fr=0.4), share=0.1),
    chronic("stent", "Z955", 0.6, R(cm=1, age=0.4, male=0.6), share=0.35),
    chronic("cabg", "Z951", 0.6, R(cm=1, age=0.6, male=0.8), share=0.25),
    chronic("pacemaker", "Z950", 0.7, R(age=1), dict(paced=True), visible=0.75, share=0.25),
    chronic("valve_prosthesis", "Z952", 0.6, R(age=0.7, cm=0.3), share=0.1),
    chronic("icd_device", "Z95810", 0.7, R(cm=0.8, male=0.6), dict(paced=True), visible=0.2, share=0.05),
    chronic("pvcs", "I493", 0.5, R(cm=0.4, age=0.7), dict(pvc_rate=0.1), visible=0.6, share=0.45),
    chronic("sick_sinus", "I495", 0.8, R(age=1.2), dict(hr=-22, rr_var=3.0), visible=0.6, share=0.3),
    chronic("pacs", "I491", 0.4, R(age=0.7, pu=0.2), dict(pac_rate=0.08), visible=0.5, share=0.25),
    chronic("htn_ckd", "I129 I120", 0.75, R(cm=0.7, rn=1.2, age=0.4),
            dict(qrs_amp=1.2, p_dur=10, t_amp=1.15, tinv=(LAT, 0.1)), penetrance=0.4),
    chronic("stroke_history", "Z8673", 0.45, R(cm=0.6, age=0.7), share=0.4),
    chronic("vte_history", "Z86718", 0.45, R(fr=0.4, cm=0.2), share=0.3),
    chronic("polyp_history", "Z860100", 0.4, R(age=0.5), share=0.3),
    chronic("anxiety", "F419", 0.5, R(bh=0.9, male=-0.6), dict(hr=6), penetrance=0.3),
    acute("anaemia", "D649", 0.65, 60, R(rn=0.8, fr=0.6, male=-0.3), dict(hr=10, t_amp=0.85), penetrance=0.6),
    chronic("rbbb", "I4510", 0.6, R(age=0.8, pu=0.3, male=0.5), dict(bbb="right"), penetrance=0.95, share=0.7),
    chronic("wpw", "I456", 0.9, R(age=-0.7), dict(delta=0.25, pr=-55, qrs=20), visible=0.8, share=0.1),
    chronic("long_qt", "I4581", 0.8, R(bh=0.2), dict(qtc=60), penetrance=0.85, share=0.2),
    chronic("hypothyroidism", "E039", 0.75, R(age=0.3, male=-1.3), dict(hr=-8, qrs_amp=0.85, t_amp=0.75),
            penetrance=0.6),
    chronic("copd", "J449 J441", 0.85, R(pu=1.4, age=0.5), dict(axis=20, p_amp=1.35, qrs_amp=0.8, hr=6),
            penetrance=0.6),
    chronic("sleep_apnoea", "G4733", 0.55, R(cm=0.7, pu=0.4, male=0.7), share=0.7),
    chronic("insomnia", "G4700", 0.4, R(bh=0.6), share=0.3),
    complaint("chest_pain", "R079 R0789", R(cm=0.3, bh=0.2, age=-0.1)),
    chronic("hypertensive_hd", "I110 I119", 0.75, R(cm=1, age=0.4), dict(qrs_amp=1.4, tinv=(LAT, 0.4)),
            penetrance=0.6),
    chronic("obesity", "E669 E6601", 0.45, R(cm=0.8, age=-0.1), dict(qrs_amp=0.85, axis=-12), penetrance=0.6),
    acute("stemi_anterior", "I2109", 0.95, 28, R(cm=1.1, age=0.5, male=0.7),
          dict(st=(ANT, 0.28), tinv=(ANT, 0.5), q=(ANT, 0.3)), penetrance=0.85, fade_days=1.5, share=0.3),
    acute("stemi_inferior", "I2119", 0.95, 28, R(cm=1.1, age=0.5, male=0.7),
          dict(st=(INF, 0.22), tinv=(INF, 0.5), q=(INF, 0.3)), penetrance=0.85, fade_days=1.5, share=0.25),
    acute("nstemi", "I214", 0.9, 28, R(cm=1, age=0.7, male=0.5), dict(st=(LAT, -0.1), tinv=(LAT, 0.5)),
          penetrance=0.55, fade_days=2, share=0.45),
    chronic("dilated_cm", "I420", 0.85, R(cm=0.6, bh=0.5, male=0.6), dict(qrs=25, qrs_amp=0.8, hr=6),
            penetrance=0.8, share=0.7),
    chronic("hypertrophic_cm", "I422 I421", 0.9, R(age=-0.4), dict(qrs_amp=1.8, tinv=(LAT, 0.7)), penetrance=0.8,
            share=0.15),
    chronic("other_cm", "I429", 0.8, R(cm=0.6), dict(qrs_amp=0.8), penetrance=0.4, share=0.15),
    chronic("nicotine", "F17210", 0.5, R(pu=1, bh=0.6, age=-0.3)),
    acute("uti", "N390", 0.9, 7, R(fr=0.8, age=0.3, male=-0.9)),
    chronic("aortic_stenosis", "I350", 0.75, R(age=1.1, cm=0.3), dict(qrs_amp=1.3, tinv=(LAT, 0.3)),
            penetrance=0.6),
    chronic("lvh", "I517", 0.6, R(cm=0.8, age=0.4), dict(qrs_amp=1.35, tinv=(LAT, 0.25)), penetrance=0.6,
            share=0.7),
    acute("takotsubo", "I5181", 0.95, 14, R(age=0.5), dict(tinv=(ANT, 0.8), qtc=40), penetrance=0.8, share=0.1,
          sex="F"),
    acute("myocarditis", "I514", 0.9, 14, R(age=-0.7, male=0.6), dict(st=("diffuse", 0.1), hr=15),
          penetrance=0.5, fade_days=5, share=0.2),
    acute("place_home", "Y92009 Y92239", 0.7, 1, R(fr=0.8, age=0.4)),
    acute("dehydration", "E860", 0.8, 3, R(fr=0.7, age=0.4), dict(hr=10), penetrance=0.5, fade_days=2),
    complaint("tachycardia", "R000", R(fr=0.3, bh=0.3), dict(hr=30), penetrance=0.9, fade_days=1, share=0.6),
    complaint("bradycardia", "R001", R(age=0.7), dict(hr=-22), penetrance=0.9, fade_days=1, share=0.4),
    acute("pneumonia", "J189", 0.9, 14, R(pu=0.9, fr=0.6, age=0.4), dict(hr=15), penetrance=0.6, fade_days=4),
    chronic("chronic_pain", "G8929", 0.35, R(fr=0.5, bh=0.4)),
    acute("blood_loss_anaemia", "D62", 0.8, 10, R(fr=0.5, bh=0.2), dict(hr=12), penetrance=0.5, fade_days=3),
    acute("sepsis", "A419", 0.9, 10, R(fr=1, rn=0.5, age=0.3), dict(hr=25, qrs_amp=0.9), penetrance=0.75,
          fade_days=3),
    complaint("abnormal_ecg", "R9431", R(cm=0.6, age=0.4), dict(tinv=(LAT, 0.3), st=(LAT, -0.05)),
              penetrance=0.85),  # coded because the tracing was abnormal
    acute("resp_failure", "J9601 J9602", 0.85, 7, R(pu=1.1, fr=0.7), dict(hr=15), penetrance=0.5, fade_days=3),
    chronic("dnr", "Z66", 0.6, R(fr=1.2, age=1)),
    chronic("alcohol", "F1010 F1020", 0.6, R(bh=1.4, male=1, age=-0.3), dict(hr=6, qtc=10), penetrance=0.35),
    chronic("svt", "I4719 I4710", 0.85, R(age=-0.2, male=-0.3), dict(rhythm="svt", rate=170), visible=0.35,
            share=0.7),
    chronic("vt", "I4720 I4729", 0.9, R(cm=1, male=0.8), dict(rhythm="vt", rate=165), visible=0.3, share=0.3),
    chronic("vitamin_d", "E559", 0.4, R(fr=0.4)),
    chronic("osteoporosis", "M810", 0.45, R(age=0.8, fr=0.4), sex="F"),
    acute("hypotension", "I959", 0.8, 2, R(fr=0.7, cm=0.2), dict(hr=10), penetrance=0.4, fade_days=1),
    chronic("bmi", "Z6841 Z6830", 0.35, R(cm=0.8), dict(qrs_amp=0.85, axis=-12), penetrance=0.6),
    chronic("asthma", "J45909", 0.6, R(pu=0.8, male=-0.4, age=-0.3), dict(hr=6, pac_rate=0.02),
            penetrance=0.4),  # beta-agonists
    acute("hypomagnesaemia", "E8342", 0.75, 2, R(rn=0.5, bh=0.6), dict(qtc=15), penetrance=0.4, share=0.5),
    acute("hypocalcaemia", "E8351", 0.75, 2, R(rn=0.8), dict(qtc=35), penetrance=0.6, share=0.3),
    acute("hypophosphataemia", "E8339", 0.7, 2, R(bh=0.6, fr=0.4), share=0.2),
    chronic("gout", "M109", 0.55, R(rn=0.9, cm=0.5, male=1)),
    chronic("bph", "N400", 0.5, R(age=0.8), sex="M"),
    acute("constipation", "K5900", 0.6, 5, R(fr=0.6, age=0.3)),
    complaint("dyspnoea", "R0602 R0600", R(pu=0.6, cm=0.4)),
    chronic("epilepsy", "G40909", 0.8, R(bh=0.4)),
    chronic("dementia", "F0390", 0.65, R(age=1.6, fr=0.9), dict(hr=-6, qtc=8), penetrance=0.35),  # donepezil
    chronic("mitral", "I340 I341", 0.65, R(age=0.7), dict(p_dur=25, p_amp=1.25), penetrance=0.5),
    chronic("diverticulosis", "K5790 K5730", 0.4, R(age=0.6)),
    acute("thrombocytopenia", "D696", 0.7, 20, R(fr=0.6, bh=0.5)),
    acute("stroke", "I639 I6350", 0.95, 30, R(cm=1, age=0.8), dict(tinv=(ANT, 0.4), qtc=20), penetrance=0.25),
    acute("pericardial_effusion", "I3139 I3131", 0.85, 30, R(rn=0.5, fr=0.4), dict(qrs_amp=0.6, hr=12),
          penetrance=0.5),
    acute("pericarditis", "I309", 0.9, 10, R(age=-0.5, male=0.5), dict(st=("diffuse", 0.12), pr=-15),
          penetrance=0.6, fade_days=5),
    acute("gi_bleed", "K922 K921", 0.85, 3, R(bh=0.6, fr=0.5, age=0.3), dict(hr=12), penetrance=0.4,
          fade_days=2),
    complaint("weakness", "R531 R5381 R5383", R(fr=0.8, age=0.4)),
    chronic("fall_history", "Z9181", 0.35, R(fr=1, age=0.5)),
    chronic("type1_diabetes", "E109 E1010", 0.9, R(age=-0.8)),
    acute("pulmonary_embolism", "I2699", 0.95, 10, R(pu=0.4, fr=0.6, cm=0.2),
          dict(hr=20, axis=15, tinv=(ANT, 0.3)), penetrance=0.6, fade_days=4),
    complaint("syncope", "R55", R(age=0.4, cm=0.2)),
    chronic("pulmonary_htn", "I2720", 0.8, R(pu=1, cm=0.4, age=0.4), dict(axis=35, p_amp=1.4, tinv=(ANT, 0.2)),
            penetrance=0.6),
    acute("hyperthyroidism", "E0590", 0.75, 90, R(male=-1), dict(hr=20), penetrance=0.65),
    chronic("lung_cancer", "C3490", 0.85, R(pu=1.4, age=0.6), dict(hr=6), penetrance=0.2),
    chronic("pad", "I739", 0.6, R(cm=1, pu=0.6, age=0.6)),
    acute("angina", "I209 I200", 0.85, 3, R(cm=1, age=0.4), dict(tinv=(LAT, 0.3), st=(LAT, -0.05)),
          penetrance=0.3, fade_days=1),
    chronic("dialysis", "Z992", 0.8, R(rn=1.8), dict(qrs_amp=1.2, t_amp=1.3), penetrance=0.5, share=0.5),
    chronic("home_oxygen", "Z9981", 0.7, R(pu=1.6), dict(axis=25, p_amp=1.35, qrs_amp=0.8), penetrance=0.5,
            share=0.5),
    chronic("parkinson", "G20A1 G20C", 0.85, R(age=1.4, male=0.5), dict(tremor_mv=0.06), penetrance=0.4),
    chronic("amyloidosis", "E8582 E859", 0.85, R(age=1, male=0.8), dict(qrs_amp=0.55, pr=30), penetrance=0.6),
    # --- the long tail -----------------------------------------------------------------------
    chronic("schizophrenia", "F209", 0.8, R(bh=1.1, male=0.5), dict(qtc=15, hr=8), penetrance=0.5),  # antipsychotics
    acute("gallstones", "K8020", 0.8, 10, R(cm=0.4, male=-0.5)),
    acute("kidney_stone", "N200", 0.85, 5, R(rn=0.3, male=0.5)),
    chronic("osteoarthritis", "M1990", 0.4, R(age=0.8, cm=0.2)),
    chronic("back_pain", "M5450", 0.35, R(fr=0.4)),
    acute("hip_fracture", "S72001A", 0.95, 30, R(fr=1, age=1), dict(hr=8), penetrance=0.3, fade_days=5),
    acute("fall", "W19XXXA", 0.7, 1, R(fr=1, age=0.8)),
    acute("head_injury", "S060X0A", 0.9, 5, R(fr=0.6, bh=0.6)),
    acute("cellulitis", "L03115 L03116", 0.85, 10, R(cm=0.5, fr=0.4)),
    acute("pancreatitis", "K8590", 0.9, 7, R(bh=1)),
    chronic("cirrhosis", "K7469 K7460", 0.85, R(bh=1.2, cm=0.4), dict(qtc=15), penetrance=0.5),
    chronic("alcoholic_liver", "K7030", 0.8, R(bh=1.6, male=0.8), dict(qtc=10), penetrance=0.2),
    chronic("hepatitis_c", "B182", 0.8, R(bh=1.2)),
    chronic("breast_cancer", "C50919", 0.8, R(age=0.4), sex="F"),
    chronic("prostate_cancer", "C61", 0.8, R(age=1), sex="M"),
    chronic("metastases", "C787 C7800", 0.8, R(fr=0.6, pu=0.2)),
    chronic("bone_metastases", "C7951", 0.8, R(fr=0.6)),
    chronic("iron_deficiency", "D509", 0.5, R(fr=0.5, male=-0.6), dict(hr=5), penetrance=0.3),
    chronic("ckd_anaemia", "D631", 0.5, R(rn=1.4)),
    acute("neutropenia", "D709", 0.8, 10, R(fr=0.8)),
    chronic("malnutrition", "E43", 0.7, R(fr=1.3, bh=0.4), dict(qrs_amp=0.85), penetrance=0.3),
    chronic("moderate_malnutrition", "E440", 0.6, R(fr=1)),
    acute("hypoglycaemia", "E162", 0.8, 1, R(cm=0.6, rn=0.5), dict(hr=10, qtc=15), penetrance=0.4,
          fade_days=0.5),
    chronic("adrenal", "E2740", 0.85, R(fr=0.4)),
    complaint("abdominal_pain", "R1084 R109", R(age=-0.3)),
    complaint("headache", "R519", R(age=-0.4, male=-0.5)),
    complaint("dizziness", "R42", R(age=0.3)),
    complaint("nausea", "R1110 R112", R(fr=0.2)),
    complaint("fever", "R509", R(fr=0.5), dict(hr=12), penetrance=0.6, fade_days=1),
    complaint("altered_mental_status", "R4182", R(age=0.8, fr=0.6)),
    complaint("seizure", "R569", R(bh=0.5)),
    complaint("oedema", "R600", R(cm=0.5, rn=0.5), dict(qrs_amp=0.9), penetrance=0.3),
    complaint("dysphagia", "R1310", R(age=0.7, fr=0.6)),
    complaint("urinary_retention", "R339", R(age=0.8, male=0.8)),
    complaint("weight_loss", "R634", R(fr=0.8)),
    complaint("abnormal_chemistry", "R7989", R(rn=0.5)),
    complaint("lung_nodule", "R918", R(pu=0.8, age=0.4)),
    complaint("haemoptysis", "R042", R(pu=0.8)),
    complaint("cough", "R059", R(pu=0.6)),
    acute("delirium", "F05", 0.7, 5, R(age=1.3, fr=1)),
    chronic("opioid_use", "F1120", 0.7, R(bh=1.6, age=-0.5), dict(qtc=10), penetrance=0.3),
    chronic("cocaine_use", "F1410", 0.7, R(bh=1.6, age=-0.5), dict(hr=10), penetrance=0.3),
    chronic("bipolar", "F319", 0.8, R(bh=1.1), dict(qtc=10, t_amp=0.8), penetrance=0.4),  # antipsychotics, lithium
    chronic("ptsd", "F4310", 0.55, R(bh=0.9)),
    chronic("alzheimer", "G309", 0.8, R(age=1.7), dict(hr=-6, qtc=8), penetrance=0.35),  # donepezil
    chronic("multiple_sclerosis", "G35D", 0.9, R(age=-0.5, male=-0.8)),
    chronic("migraine", "G43909", 0.5, R(age=-0.7, male=-1)),
    acute("tia", "G459", 0.9, 2, R(cm=0.9, age=0.8)),
    chronic("neuropathy", "G629", 0.5, R(cm=0.6, bh=0.5, age=0.4)),
    chronic("hemiplegia", "G8194", 0.7, R(cm=0.6, age=0.5)),
    acute("encephalopathy", "G9340 G9341", 0.8, 5, R(fr=1, rn=0.5)),
    chronic("glaucoma", "H409", 0.35, R(age=0.8)),
    chronic("hearing_loss", "H9190", 0.3, R(age=1)),
    chronic("carotid_stenosis", "I6529", 0.6, R(cm=1, age=0.7)),
    chronic("cerebrovascular", "I672", 0.5, R(cm=0.6, age=0.8)),
    chronic("stroke_sequelae", "I69351", 0.6, R(cm=0.8, age=0.7)),
    chronic("atherosclerosis", "I7090 I700", 0.55, R(cm=1, pu=0.4, age=0.7)),
    chronic("aortic_aneurysm", "I7140", 0.8, R(cm=0.6, pu=0.6, age=0.8, male=1)),
    acute("dvt", "I82409 I82401", 0.9, 60, R(fr=0.6, cm=0.2)),
    chronic("varicose", "I8390", 0.3, R(age=0.5)),
    acute("bacterial_pneumonia", "J159 J150", 0.9, 14, R(pu=0.9, fr=0.7), dict(hr=15), penetrance=0.5,
          fade_days=4),
    acute("aspiration", "J690", 0.9, 14, R(fr=1.2, age=0.7), dict(hr=15), penetrance=0.5, fade_days=4),
    acute("pleural_effusion", "J90", 0.8, 20, R(cm=0.5, pu=0.5, rn=0.4), dict(qrs_amp=0.85), penetrance=0.4),
    acute("pulmonary_oedema", "J810", 0.85, 3, R(cm=1, rn=0.5), dict(hr=15), penetrance=0.5, fade_days=1),
    chronic("ild", "J8410", 0.85, R(pu=1, age=0.7), dict(hr=6), penetrance=0.3),
    chronic("emphysema", "J439", 0.7, R(pu=1.6, age=0.4), dict(qrs_amp=0.8, axis=15), penetrance=0.4),
    chronic("bronchiectasis", "J479", 0.7, R(pu=1)),
    acute("atelectasis", "J9811", 0.6, 5, R(pu=0.6, fr=0.5)),
    acute("gastric_ulcer", "K259", 0.8, 20, R(bh=0.7)),
    acute("gastritis", "K2970", 0.6, 10, R(bh=0.6)),
    acute("bowel_obstruction", "K56609 K567", 0.9, 7, R(fr=0.6, age=0.4)),
    acute("ischaemic_bowel", "K559", 0.9, 10, R(cm=0.8, age=0.8)),
    chronic("hiatal_hernia", "K449", 0.35, R(age=0.5)),
    chronic("ibs", "K589", 0.4, R(male=-0.8, age=-0.4)),
    chronic("fatty_liver", "K760", 0.45, R(cm=1)),
    chronic("pressure_ulcer", "L89159", 0.7, R(fr=1.6, age=0.7)),
    chronic("rheumatoid", "M069", 0.7, R(male=-0.9)),
    chronic("knee_oa", "M170", 0.4, R(age=0.8, cm=0.3)),
    acute("rhabdomyolysis", "M6282", 0.85, 5, R(bh=0.6, fr=0.5)),
    acute("hydronephrosis", "N1330", 0.8, 10, R(rn=0.6)),
    chronic("kidney_disorder", "N289", 0.4, R(rn=0.8)),
    acute("cystitis", "N3000", 0.8, 7, R(male=-1)),
    chronic("bladder_disorder", "N3281", 0.4, R(age=0.7)),
    acute("rib_fracture", "S2249XA", 0.9, 14, R(fr=0.6, bh=0.3, age=0.4)),
    acute("pelvic_fracture", "S32009A", 0.9, 20, R(fr=0.8, age=0.8)),
    acute("humerus_fracture", "S42201A", 0.9, 20, R(fr=0.7)),
    acute("forearm_fracture", "S52501A", 0.9, 20, R(fr=0.5, male=-0.5)),
    acute("scalp_wound", "S0181XA", 0.85, 3, R(fr=0.5, bh=0.5)),
    acute("opioid_poisoning", "T401X1A", 0.9, 2, R(bh=1.6, age=-0.7), dict(hr=-8, qtc=15), penetrance=0.4,
          fade_days=1),
    acute("sedative_poisoning", "T424X1A", 0.9, 2, R(bh=1.2)),
    acute("paracetamol_poisoning", "T391X1A", 0.9, 2, R(bh=1.2, age=-0.8)),
    acute("digoxin_effect", "T460X5A", 0.85, 3, R(cm=0.6, age=0.8, rn=0.5), dict(pr=30, st=(LAT, -0.08), hr=-10),
          penetrance=0.6, fade_days=2),
    acute("hypothermia", "T68XXXA", 0.95, 2, R(fr=0.8, bh=1), dict(hr=-15, qtc=40), penetrance=0.7,
          fade_days=1),
    acute("angioedema", "T783XXA", 0.9, 1, R(age=-0.3), dict(hr=20), penetrance=0.5, fade_days=0.5),
    acute("surgical_infection", "T8140XA", 0.85, 10, R(fr=0.5)),
    acute("device_infection", "T827XXA", 0.9, 14, R(cm=0.6, age=0.5)),
    chronic("transplant", "Z940", 0.9, R(rn=1.6), share=0.7),
    chronic("heart_transplant", "Z941", 0.9, R(cm=1.2), dict(hr=20, bbb="right"), penetrance=0.5, share=0.3),
    chronic("joint_implant", "Z96641 Z96651", 0.35, R(age=0.8)),
    chronic("organ_absence", "Z9049 Z90710", 0.3, R(age=0.4)),
    chronic("cancer_history", "Z853 Z8546 Z85038", 0.5, R(age=0.8)),
    chronic("family_cancer", "Z800", 0.2, R()),
    chronic("family_heart", "Z8249", 0.2, R(cm=0.4)),
    chronic("penicillin_allergy", "Z880", 0.3, R()),
    acute("covid", "U071", 0.95, 14, R(fr=0.6, cm=0.4, age=0.5), dict(hr=12), penetrance=0.5, fade_days=5),
    chronic("homeless", "Z5900", 0.6, R(bh=1.4)),
    chronic("tobacco_use", "Z720", 0.3, R(pu=0.8, bh=0.6, age=-0.7)),
    chronic("ostomy", "Z933", 0.6, R(fr=0.5)),
    chronic("angioplasty_status", "Z9861", 0.4, R(cm=1)),
    acute("palliative", "Z515", 0.8, 30, R(fr=1.6, age=0.8)),
    acute("c_difficile", "A0472", 0.9, 14, R(fr=0.8, age=0.5)),
    acute("gastroenteritis", "A084", 0.8, 3, R(age=-0.7)),
    acute("e_coli", "B9620", 0.6, 7, R(fr=0.6, male=-0.6)),
    acute("staph", "B9561", 0.6, 7, R(fr=0.6, bh=0.4)),
    chronic("hiv", "B20", 0.9, R(bh=1.2, age=-0.4, male=0.8)),
    chronic("colon_cancer", "C189", 0.8, R(age=0.7)),
    chronic("lymphoma", "C8590", 0.8, R(age=0.4)),
    chronic("leukaemia", "C9110", 0.85, R(age=0.7)),
    chronic("pancreatic_cancer", "C259", 0.85, R(age=0.8, bh=0.3)),
    acute("coagulopathy", "D689", 0.7, 10, R(bh=0.6, fr=0.5)),
    acute("leukocytosis", "D72829", 0.5, 3, R(fr=0.5)),
    chronic("goitre", "E042", 0.4, R(male=-1.2)),
    chronic("hyperparathyroidism", "E213", 0.6, R(male=-0.8, rn=0.6), dict(qtc=-15), penetrance=0.3),
    chronic("pcos", "E282", 0.5, R(age=-1.3), sex="F"),
    chronic("b12_deficiency", "E538", 0.4, R(age=0.5)),
    chronic("postsurgical_hypothyroid", "E890", 0.6, R(male=-1), dict(hr=-4), penetrance=0.2),
    chronic("vascular_dementia", "F0150", 0.7, R(age=1.6, cm=0.6)),
    chronic("polysubstance", "F1910", 0.6, R(bh=1.8, age=-0.7)),
    chronic("recurrent_depression", "F339", 0.6, R(bh=1, male=-0.6), dict(qtc=8), penetrance=0.4),
    chronic("adhd", "F909", 0.4, R(age=-1.7)),
    chronic("essential_tremor", "G250", 0.5, R(age=0.8), dict(tremor_mv=0.04), penetrance=0.5),
    chronic("hydrocephalus", "G912", 0.7, R(age=0.8)),
    chronic("carpal_tunnel", "G5600", 0.3, R(male=-0.6, cm=0.3)),
    chronic("cataract", "H269", 0.3, R(age=1.1)),
    chronic("macular_degeneration", "H3530", 0.35, R(age=1.5)),
    chronic("visual_loss", "H547", 0.5, R(age=0.8, cm=0.4)),
    chronic("rheumatic_tricuspid", "I071", 0.6, R(age=0.7, pu=0.3), dict(p_amp=1.2), penetrance=0.2),
    acute("endocarditis", "I330", 0.95, 42, R(bh=1.2, age=0.3), dict(hr=12, pr=30), penetrance=0.35,
          fade_days=10),
    acute("cardiac_arrest", "I469", 0.95, 5, R(cm=1, age=0.5), dict(qtc=30, st=("diffuse", -0.05)),
          penetrance=0.5, fade_days=2),
    acute("arterial_embolism", "I749", 0.9, 10, R(cm=0.8)),
    chronic("venous_insufficiency", "I872", 0.35, R(age=0.7)),
    acute("postprocedural_circulatory", "I9789", 0.6, 5, R(cm=0.5)),
    acute("intracerebral_haemorrhage", "I619", 0.95, 21, R(cm=0.6, age=0.8, bh=0.3), dict(tinv=(ANT, 0.5), qtc=25),
          penetrance=0.3),
    acute("subarachnoid_haemorrhage", "I609", 0.95, 21, R(age=0.2, male=-0.4, pu=0.3),
          dict(tinv=(ANT, 0.8), qtc=40), penetrance=0.4),
    chronic("oesophagitis", "K2270", 0.5, R(bh=0.4)),
    chronic("gastroparesis", "K3184", 0.5, R(cm=0.8)),
    acute("rectal_bleeding", "K625", 0.7, 3, R(age=0.4)),
    chronic("haemorrhoids", "K649", 0.3, R()),
    acute("peritonitis", "K659", 0.9, 14, R(fr=0.8)),
    acute("cholecystitis", "K810", 0.9, 7, R(cm=0.5, age=0.4)),
    acute("cholangitis", "K8309", 0.9, 10, R(age=0.7)),
    chronic("chronic_pancreatitis", "K861", 0.7, R(bh=1.4)),
    chronic("leg_ulcer", "L97909", 0.6, R(cm=1, fr=0.6)),
    chronic("psoriasis", "L409", 0.5, R()),
    chronic("lupus", "M329", 0.85, R(male=-2, age=-0.4)),
    chronic("spinal_stenosis", "M48061", 0.4, R(age=0.8)),
    chronic("disc_disorder", "M5126", 0.3, R()),
    acute("pyelonephritis", "N10", 0.9, 10, R(male=-1)),
    chronic("neurogenic_bladder", "N319", 0.5, R(fr=0.8)),
    chronic("prolapse", "N814", 0.4, R(age=0.4), sex="F"),
    chronic("menopause", "N951", 0.3, R(age=0.4), sex="F"),
    chronic("asd", "Q2110", 0.8, R(age=-0.7), dict(bbb="right"), penetrance=0.5),
    chronic("bicuspid_valve", "Q231", 0.8, R(age=-0.4), dict(qrs_amp=1.15), penetrance=0.3),
    complaint("murmur", "R011", R(age=0.5)),
    complaint("hypoxaemia", "R0902", R(pu=1, fr=0.5), dict(hr=8), penetrance=0.4),
    complaint("ascites", "R188", R(bh=1), dict(qrs_amp=0.85), penetrance=0.3),
    complaint("gait", "R262", R(fr=1, age=0.8)),
    complaint("haematuria", "R319", R(age=0.6, male=0.6)),
    complaint("somnolence", "R4020", R(fr=1, bh=0.6)),
    complaint("suicidal_ideation", "R45851", R(bh=1.6, age=-0.7)),
    acute("shock", "R579", 0.9, 2, R(fr=1, cm=0.4), dict(hr=25), penetrance=0.7, fade_days=1),
    acute("severe_sepsis", "R6520", 0.85, 5, R(fr=1, rn=0.5), dict(hr=20), penetrance=0.6, fade_days=2),
    complaint("hyperglycaemia", "R739", R(cm=0.8)),
    complaint("abnormal_liver_tests", "R7401", R(bh=0.8)),
    complaint("facial_weakness", "R29810", R(cm=0.5, age=0.7)),
    complaint("aphasia", "R4701", R(cm=0.6, age=0.8)),
    complaint("haemorrhage", "R58", R()),
    complaint("lymphadenopathy", "R599", R()),
    complaint("cachexia", "R64", R(fr=1.3), dict(qrs_amp=0.9), penetrance=0.2),
    complaint("chills", "R6883", R(fr=0.3)),
    complaint("proteinuria", "R809", R(rn=0.8)),
    complaint("abnormal_imaging", "R931", R(cm=0.4, age=0.5)),
    acute("head_injury_unspecified", "S0990XA", 0.8, 2, R(fr=0.6, bh=0.6)),
    acute("knee_contusion", "S8001XA", 0.7, 3, R()),
    acute("drug_poisoning", "T50901A", 0.85, 2, R(bh=1)),
    acute("anticoagulant_effect", "T45515A", 0.8, 3, R(cm=0.5, age=0.7)),
    acute("insulin_effect", "T383X5A", 0.8, 1, R(cm=0.8)),
    acute("alcohol_intoxication", "T510X1A", 0.85, 1, R(bh=1.6, male=0.8), dict(hr=10), penetrance=0.4,
          fade_days=0.5),
    acute("catheter_complication", "T83511A", 0.8, 7, R(fr=0.8)),
    acute("prosthesis_infection", "T8450XA", 0.85, 14, R(age=0.7)),
    acute("slip_fall", "W010XXA", 0.6, 1, R(fr=0.6, age=0.5)),
    acute("bed_fall", "W06XXXA", 0.6, 1, R(fr=1.2, age=0.8)),
    acute("other_fall", "W1830XA", 0.6, 1, R(fr=0.8, age=0.7)),
    acute("exposure", "X58XXXA", 0.5, 1, R()),
    acute("surgical_cause", "Y838 Y848", 0.6, 10, R(fr=0.5)),
    chronic("drug_resistance", "Z1611", 0.5, R(fr=0.8)),
    chronic("hiv_status", "Z21", 0.8, R(bh=1.1)),
    chronic("mrsa_carrier", "Z22322", 0.5, R(fr=0.8)),
    acute("vaccination", "Z23", 0.5, 1, R()),
    acute("procedure_cancelled", "Z5321", 0.4, 1, R()),
    chronic("care_dependency", "Z7401", 0.5, R(fr=1.6)),
    chronic("amputation", "Z89611", 0.6, R(cm=1.2, fr=0.5)),
    chronic("chemotherapy_history", "Z9221", 0.5, R(age=0.5)),
    chronic("family_diabetes", "Z833", 0.2, R(cm=0.5)),
]

# Course links: when `a` starts (an acute episode) or begins (a chronic onset), `b` follows with
# probability p after an exponential delay with this mean in days (0: at once). This is how an
# infarction leaves an old infarction and a stent, paroxysmal AF becomes persistent, and a
# complete AV block gets a pacemaker.
LINKS: list[tuple[str, str, float, float]] = [
    ("stemi_anterior", "old_mi", 0.8, 30), ("stemi_inferior", "old_mi", 0.8, 30), ("nstemi", "old_mi", 0.35, 30),
    ("stemi_anterior", "stent", 0.6, 0), ("stemi_inferior", "stent", 0.6, 0), ("nstemi", "stent", 0.4, 0),
    ("nstemi", "cabg", 0.1, 10), ("cad", "stent", 0.15, 700), ("stent", "antiplatelet", 0.7, 0),
    ("af_paroxysmal", "af_persistent", 0.4, 1500),
    ("af_paroxysmal", "anticoagulant", 0.5, 0), ("af_persistent", "anticoagulant", 0.7, 0),
    ("flutter", "anticoagulant", 0.6, 0), ("pulmonary_embolism", "anticoagulant", 0.8, 0),
    ("dvt", "anticoagulant", 0.7, 0), ("pulmonary_embolism", "vte_history", 0.9, 60), ("dvt", "vte_history", 0.7, 60),
    ("stroke", "stroke_history", 0.9, 30), ("stroke", "stroke_sequelae", 0.4, 30), ("stroke", "hemiplegia", 0.2, 10),
    ("av_block_3", "pacemaker", 0.8, 2), ("sick_sinus", "pacemaker", 0.3, 200), ("av_block_2", "pacemaker", 0.3, 100),
    ("vt", "icd_device", 0.4, 30), ("aortic_stenosis", "valve_prosthesis", 0.15, 700),
    ("diabetes", "insulin", 0.35, 0), ("diabetes", "neuropathy", 0.15, 1000), ("htn", "lvh", 0.1, 1500),
    ("ckd", "ckd_anaemia", 0.3, 300), ("ckd", "dialysis", 0.08, 700), ("copd", "home_oxygen", 0.15, 700),
    ("alcohol", "alcoholic_liver", 0.15, 1000), ("obesity", "bmi", 0.6, 0), ("obesity", "sleep_apnoea", 0.2, 700),
    ("lung_cancer", "metastases", 0.3, 300), ("breast_cancer", "bone_metastases", 0.15, 500),
    ("hip_fracture", "fall", 0.8, 0), ("hip_fracture", "place_home", 0.7, 0), ("fall", "place_home", 0.6, 0),
    ("head_injury", "fall", 0.5, 0), ("rib_fracture", "fall", 0.6, 0), ("pelvic_fracture", "fall", 0.6, 0),
    ("sepsis", "severe_sepsis", 0.5, 0), ("sepsis", "aki", 0.3, 0), ("pneumonia", "sepsis", 0.15, 0),
    ("uti", "sepsis", 0.1, 0), ("uti", "e_coli", 0.4, 0), ("cellulitis", "staph", 0.3, 0),
]

# Comorbidity beyond shared risk factors: while `a` is present, `b` has these extra log-odds.
BOOSTS: list[tuple[str, str, float]] = [
    ("heart_failure", "af_persistent", 0.8), ("heart_failure", "af_paroxysmal", 0.6), ("heart_failure", "lbbb", 0.8),
    ("dilated_cm", "lbbb", 1.2), ("dilated_cm", "heart_failure", 1.6), ("aortic_stenosis", "lbbb", 0.5),
    ("af_persistent", "heart_failure", 0.5), ("htn", "heart_failure", 0.6), ("htn", "ckd", 0.6),
    ("htn", "stroke", 0.5), ("htn", "cad", 0.4), ("htn", "af_paroxysmal", 0.3), ("htn", "hypertensive_hd", 1.2),
    ("htn", "htn_ckd", 1.2), ("htn", "lvh", 0.8), ("diabetes", "ckd", 0.7), ("diabetes", "cad", 0.6),
    ("diabetes", "heart_failure", 0.4), ("diabetes", "pad", 0.8), ("diabetes", "hypoglycaemia", 1.2),
    ("diabetes", "leg_ulcer", 1), ("diabetes", "amputation", 1), ("ckd", "hyperkalaemia", 1.2),
    ("ckd", "anaemia", 0.6), ("ckd", "heart_failure", 0.5), ("ckd", "gout", 0.5), ("ckd", "fluid_overload", 1),
    ("ckd", "acidosis", 0.8), ("ckd", "hypocalcaemia", 0.8), ("copd", "pneumonia", 1),
    ("copd", "resp_failure", 1.2), ("copd", "pulmonary_htn", 0.8), ("copd", "af_paroxysmal", 0.2),
    ("copd", "lung_cancer", 0.8), ("cad", "nstemi", 1.2), ("cad", "stemi_anterior", 1),
    ("cad", "stemi_inferior", 1), ("cad", "angina", 1.6), ("cad", "heart_failure", 0.5),
    ("af_paroxysmal", "stroke", 0.8), ("af_persistent", "stroke", 0.8), ("cirrhosis", "gi_bleed", 1.2),
    ("cirrhosis", "ascites", 2), ("cirrhosis", "thrombocytopenia", 1.2), ("cirrhosis", "encephalopathy", 1.2),
    ("alcohol", "hypomagnesaemia", 0.8), ("alcohol", "pancreatitis", 1), ("alcohol", "alcohol_intoxication", 1.6),
    ("alcohol", "head_injury", 0.6), ("alcohol", "cirrhosis", 1.2), ("dementia", "delirium", 1.2),
    ("dementia", "uti", 0.5), ("dementia", "fall", 0.8), ("dementia", "aspiration", 1),
    ("heart_failure", "pulmonary_oedema", 1.6), ("heart_failure", "fluid_overload", 1.2),
    ("heart_failure", "pleural_effusion", 1), ("lung_cancer", "dvt", 0.8), ("lung_cancer", "pulmonary_embolism", 0.8),
    ("lung_cancer", "neutropenia", 1.2), ("lung_cancer", "palliative", 0.8), ("dnr", "palliative", 1.2),
    ("pacemaker", "device_infection", 1.2), ("sepsis", "aki", 0.8), ("sepsis", "hypotension", 1.2),
    ("sepsis", "acidosis", 1.2), ("sepsis", "shock", 1.2), ("obesity", "sleep_apnoea", 1),
    ("hyperthyroidism", "af_paroxysmal", 0.8), ("sleep_apnoea", "af_paroxysmal", 0.3),
    ("pneumonia", "hyponatraemia", 0.4), ("parkinson", "fall", 0.6), ("parkinson", "aspiration", 0.8),
]

# A chronic disease that another one replaces when it begins (AF that becomes persistent).
REPLACED_BY: dict[str, str] = {"af_paroxysmal": "af_persistent"}


def categories() -> list[str]:
    """Three-character categories in catalogue (rank) order."""
    return list(dict.fromkeys(d.category for d in CATALOGUE))


def categories_with_ecg_effect() -> set[str]:
    """Categories with at least one disease that can change the ECG."""
    return {d.category for d in CATALOGUE if d.effect}
