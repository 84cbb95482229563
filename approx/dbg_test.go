package approx
import ("testing";"fmt")
func TestDbg(t *testing.T){
 bad:=0
 for _, kn := range append(KernelNames(), "none") {
  for _, h := range []float64{0.01, 0.3, 2} {
   for _, d := range []int{1,2,3,4,5,8,12,16,24} {
    for _, iv := range []string{"-1,1","-4,4","-2,6","0.5,3", "-30,2"} {
     o := FitOptions{Kernel: kn, Bandwidth: h, Method: "minimax", Degree: d, Interval: iv, Calibration: Normal{0,1}}
     if kn=="none" { o.Bandwidth=0 }
     if _, err := FitActivation(o); err != nil { bad++; fmt.Println(kn,h,d,iv,err) }
    }
   }
  }
 }
 fmt.Println("bad", bad)
}
